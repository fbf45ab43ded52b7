//! Dify's length-prefixed frames, decoded incrementally as bytes arrive.
//!
//! The inner API (`/inner/api/invoke/app`) answers with frames, blocking calls too (one frame).
//! Each frame is a 14-byte header — magic `0x0F`, a reserved byte, the header length `0x000A`
//! (u16 LE), the payload length (u32 LE), six reserved bytes — then a JSON payload
//! `{"data": <event or reply>, "error": ""}` (Dify `api/libs/helper.py`, reference §3.4).
//!
//! The decoder checks each header as soon as it is complete, so an oversized or corrupt frame
//! is refused before its payload is buffered.

use std::fmt;

/// The header's size, in bytes.
pub const HEADER_LEN: usize = 14;
const MAGIC: u8 = 0x0F;
const HEADER_LENGTH_FIELD: u16 = 0x000A;

/// Why the bytes are not a valid frame stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A header does not start with `0x0F`.
    BadMagic {
        /// The byte found.
        found: u8,
        /// Its offset in the stream.
        offset: u64,
    },
    /// A header's length field is not 10.
    BadHeaderLength {
        /// The value found.
        found: u16,
        /// The frame's offset in the stream.
        offset: u64,
    },
    /// A frame is larger than allowed.
    TooLarge {
        /// Its declared payload length.
        length: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a frame.
    Truncated {
        /// Bytes of the frame received.
        have: usize,
        /// Bytes the frame needed.
        need: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadMagic { found, offset } => write!(
                f,
                "not a Dify frame at byte {offset}: magic 0x{found:02x}, expected 0x0f"
            ),
            FrameError::BadHeaderLength { found, offset } => write!(
                f,
                "not a Dify frame at byte {offset}: header length {found}, expected 10"
            ),
            FrameError::TooLarge { length, max } => write!(
                f,
                "a Dify frame of {length} bytes exceeds the limit of {max} bytes"
            ),
            FrameError::Truncated { have, need } => write!(
                f,
                "the response ended inside a frame ({have} of {need} bytes)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Collects bytes and hands out complete frame payloads.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`.
    start: usize,
    /// Stream offset of `buf[0]`, for error messages.
    consumed: u64,
    max_frame: usize,
}

impl FrameDecoder {
    /// A decoder refusing payloads larger than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            consumed: 0,
            max_frame,
        }
    }

    /// Add bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.consumed += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete payload, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = &self.buf[self.start..];
        let offset = self.consumed + self.start as u64;
        if let Some(&magic) = pending.first()
            && magic != MAGIC
        {
            return Err(FrameError::BadMagic {
                found: magic,
                offset,
            });
        }
        if pending.len() < HEADER_LEN {
            return Ok(None);
        }
        let header_length = u16::from_le_bytes([pending[2], pending[3]]);
        if header_length != HEADER_LENGTH_FIELD {
            return Err(FrameError::BadHeaderLength {
                found: header_length,
                offset,
            });
        }
        let length = u32::from_le_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
        if length > self.max_frame {
            return Err(FrameError::TooLarge {
                length: length as u64,
                max: self.max_frame,
            });
        }
        if pending.len() < HEADER_LEN + length {
            return Ok(None);
        }
        let from = self.start + HEADER_LEN;
        self.start = from + length;
        Ok(Some(&self.buf[from..from + length]))
    }

    /// Call at the end of the response: bytes left over mean a truncated frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        let pending = &self.buf[self.start..];
        if pending.is_empty() {
            return Ok(());
        }
        let need = if pending.len() >= HEADER_LEN {
            HEADER_LEN
                + u32::from_le_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize
        } else {
            HEADER_LEN
        };
        Err(FrameError::Truncated {
            have: pending.len(),
            need,
        })
    }
}

/// One frame around `payload`, as Dify writes it (for tests and replay servers).
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.push(MAGIC);
    frame.push(0);
    frame.extend_from_slice(&HEADER_LENGTH_FIELD.to_le_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame.to_vec());
        }
        frames
    }

    #[test]
    fn frames_split_at_every_byte_boundary_decode_the_same() {
        let payloads: [&[u8]; 3] = [br#"{"data":{"event":"a"},"error":""}"#, b"{}", b""];
        let stream: Vec<u8> = payloads.iter().flat_map(|p| encode(p)).collect();
        for split in 0..stream.len() {
            let mut decoder = FrameDecoder::new(1024);
            decoder.push(&stream[..split]);
            let mut frames = decode_all(&mut decoder);
            decoder.push(&stream[split..]);
            frames.extend(decode_all(&mut decoder));
            assert_eq!(frames, payloads.map(<[u8]>::to_vec), "split at {split}");
            decoder.finish().unwrap();
        }
    }

    proptest::proptest! {
        /// The fuzz target's property (`fuzz/fuzz_targets/frames.rs`), for a bounded count in
        /// every test run: any bytes, cut anywhere, decode the same and never panic.
        #[test]
        fn any_bytes_cut_anywhere_decode_the_same(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..6),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..20),
            split in 0usize..512,
        ) {
            let mut stream: Vec<u8> = payloads.iter().flat_map(|p| encode(p)).collect();
            stream.extend(&noise);
            let split = split % (stream.len() + 1);
            let decode = |parts: &[&[u8]]| {
                let mut decoder = FrameDecoder::new(1024);
                let mut frames = Vec::new();
                for part in parts {
                    decoder.push(part);
                    loop {
                        match decoder.next_frame() {
                            Ok(Some(f)) => frames.push(f.to_vec()),
                            Ok(None) => break,
                            Err(e) => return (frames, Some(e)),
                        }
                    }
                }
                (frames, decoder.finish().err())
            };
            let whole = decode(&[&stream]);
            proptest::prop_assert_eq!(&whole, &decode(&[&stream[..split], &stream[split..]]));
            if noise.is_empty() {
                proptest::prop_assert_eq!(whole, (payloads, None));
            }
        }
    }

    #[test]
    fn byte_by_byte_feeding_works() {
        let stream: Vec<u8> = (0..50)
            .flat_map(|i| encode(format!("{i}").as_bytes()))
            .collect();
        let mut decoder = FrameDecoder::new(1024);
        let mut frames = Vec::new();
        for b in &stream {
            decoder.push(std::slice::from_ref(b));
            frames.extend(decode_all(&mut decoder));
        }
        assert_eq!(frames.len(), 50);
        assert_eq!(frames[49], b"49");
    }

    #[test]
    fn corrupt_streams_are_refused_with_the_offset() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&encode(b"ok"));
        decoder.push(b"<html>");
        assert_eq!(decoder.next_frame().unwrap(), Some(&b"ok"[..]));
        assert_eq!(
            decoder.next_frame().unwrap_err().to_string(),
            "not a Dify frame at byte 16: magic 0x3c, expected 0x0f"
        );
    }

    #[test]
    fn an_oversized_frame_is_refused_from_its_header_alone() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&encode(&[b'x'; 101])[..HEADER_LEN]);
        assert_eq!(
            decoder.next_frame().unwrap_err(),
            FrameError::TooLarge {
                length: 101,
                max: 100
            }
        );
    }

    #[test]
    fn a_truncated_frame_is_reported_at_the_end() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(&encode(b"hello")[..10]);
        assert_eq!(decoder.next_frame().unwrap(), None);
        assert_eq!(
            decoder.finish().unwrap_err().to_string(),
            "the response ended inside a frame (10 of 14 bytes)"
        );
    }
}

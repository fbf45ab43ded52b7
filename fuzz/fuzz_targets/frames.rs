//! Dify's length-prefixed frames: any bytes, cut anywhere, never panic; the frames decoded
//! are the same whatever the cut, and re-encoding them gives back the bytes they came from,
//! but for the reserved header bytes, which the decoder ignores (as Dify's daemon does) and
//! the encoder writes as zeros.
#![no_main]

use dify_plugin_wire::frames::{FrameDecoder, encode};
use libfuzzer_sys::fuzz_target;

fn decode(parts: &[&[u8]]) -> (Vec<Vec<u8>>, Option<String>) {
    let mut decoder = FrameDecoder::new(1 << 16);
    let mut frames = Vec::new();
    for part in parts {
        decoder.push(part);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame.to_vec()),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    }
    (frames, decoder.finish().err().map(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let whole = decode(&[data]);
    let cut = decode(&[&data[..split], &data[split..]]);
    assert_eq!(whole, cut);
    let (frames, error) = whole;
    if error.is_none() {
        let again: Vec<u8> = frames.iter().flat_map(|f| encode(f)).collect();
        let mut expected = data.to_vec();
        let mut at = 0;
        for frame in &frames {
            expected[at + 1] = 0;
            expected[at + 8..at + 14].fill(0);
            at += 14 + frame.len();
        }
        assert_eq!(again, expected);
    }
});

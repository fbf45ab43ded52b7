//! Server-Sent Events: any bytes, cut anywhere, never panic, and give the same events as
//! when read whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use dify_plugin_wire::sse::SseParser;

fn parse(parts: &[&[u8]]) -> (Vec<sse::SseEvent>, bool) {
    let mut parser = SseParser::new(1 << 16);
    let mut events = Vec::new();
    for part in parts {
        parser.push(part);
        loop {
            match parser.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(_) => return (events, true),
            }
        }
    }
    events.extend(parser.finish());
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let whole = parse(&[data]);
    let cut = parse(&[&data[..split], &data[split..]]);
    // A `\r\n` cut between its two bytes is one line ending either way; an error (not UTF-8,
    // too large) may surface at a different event, so compare only clean reads.
    if !whole.1 && !cut.1 {
        assert_eq!(whole.0, cut.0);
    }
});

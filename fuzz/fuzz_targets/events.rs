//! The guest SDK's event views: any name and JSON text never panic, and the event's text is
//! forwarded unchanged (serialising drops whitespace around the value, as `RawValue` does).
#![no_main]

use dify_plugin::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (name, json) = text.split_once('\n').unwrap_or(("message", &text));
    let event = Event::new(name, json);
    let _ = event.kind();
    let _ = event.to_value();
    assert_eq!(event.to_string(), json);
    if let Ok(serialized) = serde_json::to_string(&event) {
        assert_eq!(serialized, json.trim_matches([' ', '\t', '\n', '\r']));
    }
});

//! Domain name parsing and permutation: any input either parses or is refused, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ascii) = vigie::domain::name::to_ascii(text) {
        let _ = vigie::domain::name::to_unicode(&ascii);
        if let Ok(parts) = vigie::domain::name::split(&ascii) {
            let _ = parts.to_name();
        }
    }
});

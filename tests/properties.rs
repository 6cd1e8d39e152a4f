//! Properties of the pure stages, on generated input: the scenario parser never panics and
//! always reports positions inside the text; snapshot normalisation is idempotent; the
//! transcript's payload rendering never panics and always names the length.

use std::path::Path;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_scenario_parser_never_panics(text in "\\PC{0,400}") {
        if let Err(diagnostics) = labrun::scenario::parse(Path::new("fuzz.toml"), &text) {
            prop_assert!(!diagnostics.items.is_empty());
            for item in &diagnostics.items {
                prop_assert!(item.span.start <= text.len());
            }
            // Rendering every error with its line never panics either.
            let _ = diagnostics.to_string();
        }
    }

    #[test]
    fn scenario_like_text_never_panics(
        keys in proptest::collection::vec(
            prop_oneof![
                Just("[[server]]"), Just("[[client]]"), Just("[[check]]"), Just("[[netstat]]"),
                Just("[[host]]"), Just("[[resolver]]"), Just("[run]"),
                Just("protocol = \"tcp\""), Just("protocol = \"udp\""), Just("id = \"A\""),
                Just("port = 4000"), Just("port = 0"), Just("port = 99999999999999999999"),
                Just("exchanges = -1"), Just("reply-delay = \"2s\""), Just("start-after = \"client1:ready\""),
                Just("start-after = [\"server\", \"client2\"]"), Just("after = \"server:ready\""),
                Just("at = \"end\""), Just("expect = \"messages\""), Just("grades = \"server\""),
                Just("name = \"x\""), Just("lookup = \"name\""), Just("queries = [\"a\"]"),
                Just("timeout = \"-1s\""), Just("role = \"client\""), Just("pattern = \"{n\""),
            ],
            0..30,
        )
    ) {
        let text = keys.join("\n");
        let _ = labrun::scenario::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn snapshot_normalisation_is_idempotent(text in "\\PC{0,200}") {
        let once = labrun::snapshot::normalize(&text);
        prop_assert_eq!(labrun::snapshot::normalize(&once), once.clone());
        // A snapshot file written around any transcript reads back as it.
        let file = format!("---\nsource: x\nexpression: transcript\n---\n{once}\n");
        let parsed = labrun::snapshot::parse(&file).map(labrun::snapshot::normalize);
        prop_assert_eq!(parsed, Ok(once));
    }
}

//! The crate's shape: the top-level modules of `src/` use one another without a cycle,
//! so that each stage can be read, and tested, knowing only the ones below it; and the
//! stages that read transcripts read what their entries carry, not their text.
//!
//! The graph comes from the sources: a module uses another when its code outside
//! `#[cfg(test)]` names `crate::other` (or reaches it through `super::`). Comments and
//! string literals do not count. `cargo test --test integration layout:: -- --nocapture`
//! prints it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::root;

/// Top-level module → the top-level modules its non-test code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Uses that still close a cycle, each waiting for a move in a file being changed
/// elsewhere. The list only shrinks: an entry whose use is gone fails the test, so that
/// it is struck off and the cycle cannot come back.
const NOT_YET: &[(&str, &str, &str)] = &[];

#[test]
fn top_level_modules_form_no_cycle() {
    let mut graph = module_graph(&root().join("src"));
    assert!(
        graph.contains_key("engine"),
        "the graph misses modules: {graph:?}"
    );
    println!("{}\n", render(&graph));
    for (from, to, why) in NOT_YET {
        let used = graph.get_mut(*from).is_some_and(|used| used.remove(*to));
        assert!(
            used,
            "{from} no longer uses {to}: strike it off NOT_YET ({why})"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the top-level modules of src/ form a cycle: {}\n\nthe graph:\n{}",
            cycle.join(" → "),
            render(&graph)
        );
    }
}

#[test]
fn the_parser_sees_through_comments_strings_and_tests() {
    let code = r##"
        use crate::{engine::RunRecord, scenario::{Plan, Protocol}};
        // crate::commented
        /* crate::blocked /* nested crate::deeper */ */
        const S: &str = "crate::quoted";
        const R: &str = r#"crate::raw"#;
        fn f<'a>(x: &'a str) -> char { let _ = crate::observe::probe(); 'c' }
        #[cfg(test)]
        mod tests { use crate::tested; }
        #[cfg(test)]
        fn helper() { crate::helper_only(); }
        fn g() { super::super::sandbox::x(); super::sibling(); }
    "##;
    let found = uses(&strip(code), &["actor".into(), "inner".into()]);
    let want: BTreeSet<String> = ["engine", "scenario", "observe", "sandbox"]
        .map(String::from)
        .into();
    assert_eq!(found, want);
}

/// The stages that read transcripts (diagrams, checks, HTML and reports), which read what an
/// entry carries (`kind`, `data`, `message`, `outcome`), and never parse its text back.
const READERS: &[&str] = &["diagram", "check", "html.rs", "report.rs"];

/// Methods that read into a string: called on a `.text` field, they parse a line back.
const PARSING: &[&str] = &[
    "split_once",
    "rsplit_once",
    "split",
    "rsplit",
    "splitn",
    "rsplitn",
    "split_whitespace",
    "split_terminator",
    "split_at",
    "strip_prefix",
    "strip_suffix",
    "starts_with",
    "ends_with",
    "contains",
    "find",
    "rfind",
    "matches",
    "rmatches",
    "match_indices",
    "trim",
    "trim_start",
    "trim_end",
    "trim_matches",
    "trim_start_matches",
    "trim_end_matches",
    "parse",
    "lines",
    "chars",
    "char_indices",
    "bytes",
    "get",
    "replace",
    "to_lowercase",
    "to_uppercase",
    "eq_ignore_ascii_case",
];

/// Methods that hand a string on as it is, to what follows them.
const PASSING: &[&str] = &[
    "as_str",
    "as_ref",
    "clone",
    "to_string",
    "to_owned",
    "borrow",
];

/// Functions of the readers that take text only to write it out (escaping, fitting).
const WRITERS: &[&str] = &["esc", "escape", "escape_xml", "fit", "xml_text"];

/// The diagram used to read packet lines back (`tcp → server [SYN] seq=0 len=0  · client
/// SYN_SENT`), and the checks to look for `udp → ` and `htons` in them; entries carry that
/// as data now. What a program printed (`Entry::printed`) and what a message said
/// (`Message::text`) are data themselves, matched with patterns once bound to a name; an
/// entry's `.text` field is never parsed in place, nor handed to a function of the module
/// (a parser of its own).
#[test]
fn readers_of_transcripts_do_not_parse_entry_text() {
    let src = root().join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let first = relative.components().next().expect("a component");
        if !READERS.iter().any(|r| first.as_os_str() == *r) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file reads");
        for what in text_parsing(&strip(&text)) {
            found.push(format!("{}: {what}", relative.display()));
        }
    }
    assert!(
        found.is_empty(),
        "transcript readers parse entry text; read the entry's data instead \
         (`Entry::packet`, `Data::Socket`, `Data::NotStarted`, `Entry::printed` for output):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_text_guard_knows_the_old_parsers_from_reading_data() {
    let old = r#"
        fn flags(text: &str) -> Option<&str> { text.find('[') }
        fn f(e: &Entry) {
            let fin = flags(&e.text).is_some();
            let a = e.text.rsplit_once("  · ");
            let b = p.text.starts_with("udp → ");
            let c = r.text.as_str().contains("htons");
            let d = netstat_row(&entry.text);
        }
        fn netstat_row(text: &str) -> Option<(String, String)> { None }
    "#;
    let found = text_parsing(&strip(old));
    assert_eq!(
        found,
        [
            "`.text` handed to `flags`",
            "`.text.rsplit_once`",
            "`.text.starts_with`",
            "`.text.contains`",
            "`.text` handed to `netstat_row`",
        ]
    );
    let reading = r#"
        fn esc(text: &str) -> String { text.into() }
        fn g(e: &Entry, view: &View) {
            let note = format!("start {}", e.text);
            let label = e.text.clone();
            let usage = view.of(role, Kind::Err).filter_map(Entry::printed).any(|l| l.contains("usage"));
            let fin = e.packet().and_then(PacketLine::flags).is_some_and(|f| f.fin);
            let texts: Vec<&str> = messages.map(|m| m.text.as_str()).collect();
            let n = pattern.captures(&message.text);
            let page = esc(page.text);
            let bare = |text: &str| text.trim().to_string();
            let quoted = bare(&message.text);
        }
    "#;
    assert_eq!(text_parsing(&strip(reading)), Vec::<String>::new());
}

/// Where code parses a `.text` field: a reading method called on it (through methods that
/// pass it on), or the field handed to a function the code itself declares.
fn text_parsing(code: &str) -> Vec<String> {
    let tokens = tokenize(code);
    let declared: BTreeSet<&str> = tokens
        .windows(2)
        .filter(|w| w[0] == "fn" && is_ident(&w[1]))
        .map(|w| w[1].as_str())
        .filter(|name| !WRITERS.contains(name))
        .collect();
    let mut found = Vec::new();
    for i in 1..tokens.len() {
        let field = tokens[i - 1] == "." && tokens[i] == "text";
        if !field || tokens.get(i + 1).is_some_and(|t| t == "(") {
            continue;
        }
        // Methods called on it, through those that pass it on.
        let mut j = i + 1;
        while tokens.get(j).is_some_and(|t| t == ".") && tokens.get(j + 2).is_some_and(|t| t == "(")
        {
            let method = tokens[j + 1].as_str();
            if PARSING.contains(&method) {
                found.push(format!("`.text.{method}`"));
                break;
            }
            if !PASSING.contains(&method) {
                break;
            }
            // Past the call's arguments: `()` for these methods.
            j += 4;
        }
        // The call whose arguments it is in.
        let mut depth = 0usize;
        for k in (0..i).rev() {
            match tokens[k].as_str() {
                ")" | "]" | "}" => depth += 1,
                "(" if depth == 0 => {
                    if let Some(name) = k.checked_sub(1).map(|n| tokens[n].as_str())
                        && declared.contains(name)
                    {
                        found.push(format!("`.text` handed to `{name}`"));
                    }
                    break;
                }
                "(" | "[" | "{" => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                ";" if depth == 0 => break,
                _ => {}
            }
        }
    }
    found
}

/// The graph of the modules under `src`: each `src/NAME.rs` or `src/NAME/` is a module;
/// `lib.rs` and `main.rs`, which only declare and call them, are not.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect(src, &mut files);
    let names: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top_level(src, f))
        .filter(|name| name != "lib" && name != "main")
        .collect();
    let mut graph: Graph = names.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
    let excluded = test_only_files(&files);
    for file in &files {
        let Some(name) = top_level(src, file) else {
            continue;
        };
        if !names.contains(&name) || excluded.contains(file) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file reads");
        let module_path = module_path(src, file);
        for used in uses(&strip(&text), &module_path) {
            if used != name && names.contains(&used) {
                graph.get_mut(&name).expect("a module").insert(used);
            }
        }
    }
    graph
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ reads")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `src/engine/ports.rs` → `engine`; `src/cli.rs` → `cli`.
fn top_level(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let first = first.as_os_str().to_str()?;
    Some(first.strip_suffix(".rs").unwrap_or(first).to_owned())
}

/// The module path of a file: `src/engine/ports.rs` → `[engine, ports]`,
/// `src/engine/mod.rs` → `[engine]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").unwrap_or(&last).to_owned();
    if stem != "mod" {
        parts.push(stem);
    }
    parts
}

/// Files declared as `#[cfg(test)] mod name;`: test code that lives in a file of its own.
fn test_only_files(files: &[std::path::PathBuf]) -> BTreeSet<std::path::PathBuf> {
    let mut excluded = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("a source file reads");
        let text = strip_comments_and_strings(&text);
        let dir = if file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
        {
            file.parent().expect("a folder").to_path_buf()
        } else {
            file.with_extension("")
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[cfg(test)]") {
            rest = &rest[at + "#[cfg(test)]".len()..];
            let item = rest.trim_start();
            if let Some(declared) = item.strip_prefix("mod ") {
                let name: String = declared
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if declared[name.len()..].trim_start().starts_with(';') {
                    excluded.insert(dir.join(format!("{name}.rs")));
                    excluded.insert(dir.join(&name).join("mod.rs"));
                }
            }
        }
    }
    excluded
}

/// The code of a file without its comments, string and char literals, and
/// `#[cfg(test)]` items.
fn strip(text: &str) -> String {
    drop_test_items(&strip_comments_and_strings(text))
}

fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !ident_before(&chars, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former ends
            // with a quote within a few characters.
            let end = if next == Some('\\') {
                (i + 3..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Drops each item that follows `#[cfg(test)]`: up to its `;`, or its `{ … }` block.
fn drop_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (k, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The top-level modules that code in the module at `module_path` names: `crate::a`,
/// `crate::{a::x, b}`, and `super::…::a` when the `super`s climb to the crate root.
fn uses(code: &str, module_path: &[String]) -> BTreeSet<String> {
    let tokens = tokenize(code);
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let at_path_start = i == 0 || tokens[i - 1] != "::";
        if at_path_start && tokens[i] == "crate" && tokens.get(i + 1).is_some_and(|t| t == "::") {
            i += 2;
            heads(&tokens, i, &mut found);
        } else if at_path_start && tokens[i] == "super" {
            let mut depth = module_path.len();
            let mut j = i;
            while tokens.get(j).is_some_and(|t| t == "super")
                && tokens.get(j + 1).is_some_and(|t| t == "::")
            {
                depth = depth.saturating_sub(1);
                j += 2;
            }
            if depth == 0 && j > i {
                heads(&tokens, j, &mut found);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// The first segment of the path at `tokens[at]`, or of each path in a `{…}` group there.
fn heads(tokens: &[String], at: usize, found: &mut BTreeSet<String>) {
    match tokens.get(at).map(String::as_str) {
        Some("{") => {
            let mut depth = 0;
            let mut expect_head = true;
            for token in &tokens[at..] {
                match token.as_str() {
                    "{" => {
                        depth += 1;
                        expect_head = depth == 1;
                    }
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "," => expect_head = depth == 1,
                    t if expect_head && is_ident(t) => {
                        found.insert(t.to_owned());
                        expect_head = false;
                    }
                    _ => expect_head = false,
                }
            }
        }
        Some(t) if is_ident(t) => {
            found.insert(t.to_owned());
        }
        _ => {}
    }
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// A cycle of the graph, as the modules along it with the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in &graph[node] {
            match marks[next.as_str()] {
                Mark::Open => {
                    let from = stack.iter().position(|n| n == next).expect("on the stack");
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks: BTreeMap<String, Mark> = graph.keys().map(|k| (k.clone(), Mark::New)).collect();
    for node in graph.keys() {
        if marks[node.as_str()] == Mark::New
            && let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

/// One line per module: `engine → observe, sandbox, scenario`.
fn render(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(module, used)| {
            let used: Vec<&str> = used.iter().map(String::as_str).collect();
            format!("{module} → {}", used.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

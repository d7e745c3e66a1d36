//! What answers become, and what they never become.

use super::*;

fn blocks(text: &str) -> Vec<Block> {
    parse(text).into_iter().map(|k| k.block).collect()
}

fn text(t: &str) -> Inline {
    Inline::Text(t.into())
}

#[test]
fn paragraphs_headings_and_emphasis() {
    assert_eq!(
        blocks("# Title\n\nSome *soft* and **strong** ~~gone~~ `code`."),
        [
            Block::Heading(1, vec![text("Title")]),
            Block::Paragraph(vec![
                text("Some "),
                Inline::Emphasis(vec![text("soft")]),
                text(" and "),
                Inline::Strong(vec![text("strong")]),
                text(" "),
                Inline::Strike(vec![text("gone")]),
                text(" "),
                Inline::Code("code".into()),
                text("."),
            ]),
        ]
    );
}

#[test]
fn lists_tight_loose_ordered_and_tasks() {
    assert_eq!(
        blocks("3. three\n4. four\n\n- [x] done\n- [ ] todo"),
        [
            Block::List {
                start: Some(3),
                items: vec![
                    Item {
                        task: None,
                        blocks: vec![Block::Plain(vec![text("three")])]
                    },
                    Item {
                        task: None,
                        blocks: vec![Block::Plain(vec![text("four")])]
                    },
                ],
            },
            Block::List {
                start: None,
                items: vec![
                    Item {
                        task: Some(true),
                        blocks: vec![Block::Plain(vec![text("done")])]
                    },
                    Item {
                        task: Some(false),
                        blocks: vec![Block::Plain(vec![text("todo")])]
                    },
                ],
            },
        ]
    );
    let loose = blocks("- one\n\n- two\n  - nested");
    let Block::List { items, .. } = &loose[0] else {
        panic!("{loose:?}")
    };
    assert_eq!(items[0].blocks, [Block::Paragraph(vec![text("one")])]);
    assert!(
        matches!(&items[1].blocks[1], Block::List { .. }),
        "{items:?}"
    );
}

#[test]
fn tables_keep_their_alignment() {
    assert_eq!(
        blocks("| a | b |\n|:--|--:|\n| 1 | **2** |"),
        [Block::Table {
            align: vec![Align::Left, Align::Right],
            head: vec![vec![text("a")], vec![text("b")]],
            rows: vec![vec![vec![text("1")], vec![Inline::Strong(vec![text("2")])]]],
        }]
    );
}

#[test]
fn fenced_code_keeps_its_text_and_language() {
    assert_eq!(
        blocks("```rust\nfn main() {}\n<b>not bold</b>\n```\n> quoted"),
        [
            Block::Code {
                lang: Some("rust".into()),
                text: "fn main() {}\n<b>not bold</b>\n".into()
            },
            Block::Quote(vec![Block::Paragraph(vec![text("quoted")])]),
        ]
    );
    // A language made of odd characters keeps only the tidy ones.
    assert_eq!(
        blocks("```c\"onload=x\nint x;\n```"),
        [Block::Code {
            lang: Some("conloadx".into()),
            text: "int x;\n".into()
        }]
    );
}

#[test]
fn half_received_blocks_render_sensibly() {
    // An open fence is code up to the end; an open list is a list.
    assert_eq!(
        blocks("Look:\n\n```py\nprint(1)\nprint("),
        [
            Block::Paragraph(vec![text("Look:")]),
            Block::Code {
                lang: Some("py".into()),
                text: "print(1)\nprint(".into()
            },
        ]
    );
    assert!(
        matches!(&blocks("1. first\n2. sec")[0], Block::List { items, .. } if items.len() == 2)
    );
    // Half a table is still a paragraph until its delimiter row arrives.
    assert_eq!(
        blocks("| a | b |"),
        [Block::Paragraph(vec![text("| a | b |")])]
    );
}

#[test]
fn raw_html_is_text_never_markup() {
    assert_eq!(
        blocks("<script>alert(1)</script>"),
        [Block::Raw("<script>alert(1)</script>".into())]
    );
    assert_eq!(
        blocks("Hi <img src=x onerror=alert(1)> there"),
        [Block::Paragraph(vec![text(
            "Hi <img src=x onerror=alert(1)> there"
        )])]
    );
}

#[test]
fn only_http_https_and_mailto_links_are_live() {
    assert_eq!(
        blocks("[site](https://example.com \"Title\") [mail](mailto:a@b.c)"),
        [Block::Paragraph(vec![
            Inline::Link {
                href: "https://example.com".into(),
                title: "Title".into(),
                children: vec![text("site")]
            },
            text(" "),
            Inline::Link {
                href: "mailto:a@b.c".into(),
                title: String::new(),
                children: vec![text("mail")]
            },
        ])]
    );
    for bad in [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox)",
        "[x](/relative/path)",
        "[x](#top)",
        "<javascript:alert(1)>",
    ] {
        let out = blocks(bad);
        let Block::Paragraph(inlines) = &out[0] else {
            panic!("{bad}: {out:?}")
        };
        assert!(
            !inlines.iter().any(|i| matches!(i, Inline::Link { .. })),
            "{bad} must not be live: {out:?}"
        );
    }
    assert!(live_href("HTTPS://EXAMPLE.COM"));
    assert!(!live_href("http:"));
    assert!(!live_href("https://a\u{0}b"));
}

#[test]
fn images_are_links_never_loaded() {
    assert_eq!(
        blocks("![a cat](https://example.com/cat.png) ![x](javascript:alert(1))"),
        [Block::Paragraph(vec![
            Inline::Link {
                href: "https://example.com/cat.png".into(),
                title: String::new(),
                children: vec![text("a cat")]
            },
            text(" x"),
        ])]
    );
}

#[test]
fn keys_change_only_where_the_text_did() {
    let before = parse("Intro.\n\n- one\n- tw");
    let after = parse("Intro.\n\n- one\n- two\n- three");
    assert_eq!(
        before[0].key, after[0].key,
        "the finished paragraph keeps its key"
    );
    assert_ne!(
        before[1].key, after[1].key,
        "the growing list gets a new one"
    );
    // The same text in another place is another block.
    let twice = parse("---\n\n---");
    assert_ne!(twice[0].key, twice[1].key);
}

#[test]
fn hard_and_soft_breaks() {
    assert_eq!(
        blocks("one  \ntwo\nthree"),
        [Block::Paragraph(vec![
            text("one"),
            Inline::LineBreak,
            text("two\nthree"),
        ])]
    );
}

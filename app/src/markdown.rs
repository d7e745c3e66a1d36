//! Markdown answers (CommonMark with GFM tables, task lists and strikethrough, by
//! pulldown-cmark) as a small tree of what the UI shows. Pure, so its safety rules
//! are tested natively:
//!
//! - raw HTML is never markup: it becomes text, shown as written;
//! - a link is live only for `http`, `https` and `mailto`; any other destination
//!   (`javascript:`, `data:`, relative paths) leaves just its text;
//! - images are not loaded (a model's image URL can carry data away): an image with
//!   a live address becomes a link to it, any other shows its description.
//!
//! The browser builds DOM nodes from the tree with text nodes and fixed attributes
//! only (`markdown/dom.rs`); no HTML string is ever parsed. Each top-level block
//! carries a key made from its source text, so while an answer streams only the
//! blocks that changed (usually the last) are rebuilt. A half-received fence is a
//! code block up to the end of the text, a half-received list a list: what
//! CommonMark itself says about unclosed blocks.

#[cfg(feature = "hydrate")]
pub mod dom;

use std::ops::Range;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag};

/// A block of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// The text of a tight list item: inline content without a paragraph around it.
    Plain(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Quote(Vec<Block>),
    Code {
        /// The fence's language (its info string's first word), if any.
        lang: Option<String>,
        text: String,
    },
    List {
        /// The first number of an ordered list; `None` for bullets.
        start: Option<u64>,
        items: Vec<Item>,
    },
    Table {
        align: Vec<Align>,
        head: Vec<Vec<Inline>>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
    Rule,
    /// Raw HTML, shown as the text it is.
    Raw(String),
}

/// A list item; `task` is a task list's checkbox (checked or not).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub task: Option<bool>,
    pub blocks: Vec<Block>,
}

/// A table column's alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    None,
    Left,
    Center,
    Right,
}

/// Inline content.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Code(String),
    Emphasis(Vec<Inline>),
    Strong(Vec<Inline>),
    Strike(Vec<Inline>),
    /// A live link (`href` passed [`live_href`]).
    Link {
        href: String,
        title: String,
        children: Vec<Inline>,
    },
    LineBreak,
}

/// A top-level block and a key that changes whenever its source (or place) does.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    pub key: u64,
    pub block: Block,
}

/// Parses an answer into its top-level blocks.
pub fn parse(text: &str) -> Vec<Keyed> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Parser::new_ext(text, options).into_offset_iter();
    let mut out = Vec::new();
    while let Some((event, range)) = events.next() {
        let index = out.len();
        let block = match event {
            Event::Start(tag) => Reader(&mut events).block(tag),
            other => Reader(&mut events).loose(other),
        };
        if let Some(block) = block {
            out.push(Keyed {
                key: key(index, &text[clamp(range, text.len())]),
                block,
            });
        }
    }
    out
}

/// Whether a link destination may be followed: `http`, `https` or `mailto` only.
pub fn live_href(href: &str) -> bool {
    let Some((scheme, rest)) = href.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    !rest.is_empty()
        && matches!(scheme.as_str(), "http" | "https" | "mailto")
        && !href.chars().any(char::is_control)
}

fn clamp(range: Range<usize>, len: usize) -> Range<usize> {
    range.start.min(len)..range.end.min(len)
}

/// FNV-1a over the block's place and source.
fn key(index: usize, source: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in (index as u64).to_le_bytes().iter().chain(source.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Reads pulldown-cmark's events into the tree, one element at a time.
struct Reader<'r, I>(&'r mut I);

impl<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> Reader<'_, I> {
    fn next(&mut self) -> Option<Event<'a>> {
        self.0.next().map(|(event, _)| event)
    }

    /// A block that starts with `tag`, up to its end.
    fn block(&mut self, tag: Tag<'a>) -> Option<Block> {
        Some(match tag {
            Tag::Paragraph => Block::Paragraph(self.inlines()),
            Tag::Heading { level, .. } => Block::Heading(heading_level(level), self.inlines()),
            Tag::BlockQuote(_) => Block::Quote(self.blocks()),
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .map(|word| {
                            word.chars()
                                .filter(|c| is_lang_char(*c))
                                .collect::<String>()
                        })
                        .filter(|word| !word.is_empty()),
                    CodeBlockKind::Indented => None,
                };
                Block::Code {
                    lang,
                    text: self.text(),
                }
            }
            Tag::HtmlBlock => Block::Raw(self.text()),
            Tag::List(start) => Block::List {
                start,
                items: self.items(),
            },
            Tag::Table(align) => self.table(align),
            // Anything else (not enabled, or inline where a block was expected):
            // its text as a paragraph.
            _ => Block::Paragraph(self.inlines()),
        })
    }

    /// An event outside any block element at this level.
    fn loose(&mut self, event: Event<'a>) -> Option<Block> {
        match event {
            Event::Rule => Some(Block::Rule),
            Event::Html(html) => Some(Block::Raw(html.into_string())),
            Event::End(_) => None,
            other => {
                let mut inlines = Vec::new();
                self.inline(other, &mut inlines);
                (!inlines.is_empty()).then_some(Block::Plain(inlines))
            }
        }
    }

    /// Blocks up to the end of the enclosing element.
    fn blocks(&mut self) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut plain = Vec::new();
        while let Some(event) = self.next() {
            match event {
                Event::End(_) => break,
                Event::Start(tag) if is_block(&tag) => {
                    flush(&mut plain, &mut blocks);
                    blocks.extend(self.block(tag));
                }
                Event::Rule => {
                    flush(&mut plain, &mut blocks);
                    blocks.push(Block::Rule);
                }
                Event::Html(html) => {
                    flush(&mut plain, &mut blocks);
                    blocks.push(Block::Raw(html.into_string()));
                }
                Event::TaskListMarker(_) => {}
                other => self.inline(other, &mut plain),
            }
        }
        flush(&mut plain, &mut blocks);
        blocks
    }

    fn items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        while let Some(event) = self.next() {
            match event {
                Event::Start(Tag::Item) => items.push(self.item()),
                Event::End(_) => break,
                _ => {}
            }
        }
        items
    }

    /// A list item: its checkbox, if it has one, then its blocks (a tight item's
    /// text comes as bare inlines, kept as [`Block::Plain`]).
    fn item(&mut self) -> Item {
        let mut task = None;
        let mut blocks = Vec::new();
        let mut plain = Vec::new();
        while let Some(event) = self.next() {
            match event {
                Event::End(_) => break,
                Event::TaskListMarker(checked) => task = Some(checked),
                Event::Start(tag) if is_block(&tag) => {
                    flush(&mut plain, &mut blocks);
                    blocks.extend(self.block(tag));
                }
                Event::Rule => {
                    flush(&mut plain, &mut blocks);
                    blocks.push(Block::Rule);
                }
                Event::Html(html) => {
                    flush(&mut plain, &mut blocks);
                    blocks.push(Block::Raw(html.into_string()));
                }
                other => self.inline(other, &mut plain),
            }
        }
        flush(&mut plain, &mut blocks);
        // A task item whose text is a paragraph (loose list) keeps the box inline.
        Item { task, blocks }
    }

    fn table(&mut self, align: Vec<Alignment>) -> Block {
        let align = align
            .into_iter()
            .map(|a| match a {
                Alignment::None => Align::None,
                Alignment::Left => Align::Left,
                Alignment::Center => Align::Center,
                Alignment::Right => Align::Right,
            })
            .collect();
        let mut head = Vec::new();
        let mut rows = Vec::new();
        while let Some(event) = self.next() {
            match event {
                Event::Start(Tag::TableHead) => head = self.cells(),
                Event::Start(Tag::TableRow) => rows.push(self.cells()),
                Event::End(_) => break,
                _ => {}
            }
        }
        Block::Table { align, head, rows }
    }

    fn cells(&mut self) -> Vec<Vec<Inline>> {
        let mut cells = Vec::new();
        while let Some(event) = self.next() {
            match event {
                Event::Start(Tag::TableCell) => cells.push(self.inlines()),
                Event::End(_) => break,
                _ => {}
            }
        }
        cells
    }

    /// The text of a code or HTML block.
    fn text(&mut self) -> String {
        let mut text = String::new();
        while let Some(event) = self.next() {
            match event {
                Event::End(_) => break,
                Event::Text(t) | Event::Html(t) | Event::Code(t) | Event::InlineHtml(t) => {
                    text.push_str(&t)
                }
                _ => {}
            }
        }
        text
    }

    /// Inline content up to the end of the enclosing element.
    fn inlines(&mut self) -> Vec<Inline> {
        let mut out = Vec::new();
        while let Some(event) = self.next() {
            if let Event::End(_) = event {
                break;
            }
            self.inline(event, &mut out);
        }
        out
    }

    fn inline(&mut self, event: Event<'a>, out: &mut Vec<Inline>) {
        match event {
            Event::Text(text)
            | Event::InlineHtml(text)
            | Event::Html(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text)
            | Event::FootnoteReference(text) => push_text(out, &text),
            Event::Code(code) => out.push(Inline::Code(code.into_string())),
            Event::SoftBreak => push_text(out, "\n"),
            Event::HardBreak => out.push(Inline::LineBreak),
            Event::Rule => push_text(out, "---"),
            Event::TaskListMarker(checked) => push_text(out, if checked { "[x] " } else { "[ ] " }),
            Event::Start(tag) => self.inline_tag(tag, out),
            Event::End(_) => {}
        }
    }

    fn inline_tag(&mut self, tag: Tag<'a>, out: &mut Vec<Inline>) {
        match tag {
            Tag::Emphasis => out.push(Inline::Emphasis(self.inlines())),
            Tag::Strong => out.push(Inline::Strong(self.inlines())),
            Tag::Strikethrough => out.push(Inline::Strike(self.inlines())),
            Tag::Link {
                dest_url, title, ..
            } => {
                let children = self.inlines();
                if live_href(&dest_url) {
                    out.push(Inline::Link {
                        href: dest_url.into_string(),
                        title: title.into_string(),
                        children,
                    });
                } else {
                    append(out, children);
                }
            }
            Tag::Image {
                dest_url, title, ..
            } => {
                let mut children = self.inlines();
                if children.is_empty() {
                    children.push(Inline::Text("image".into()));
                }
                let scheme_ok = live_href(&dest_url) && !dest_url.starts_with("mailto");
                if scheme_ok {
                    out.push(Inline::Link {
                        href: dest_url.into_string(),
                        title: title.into_string(),
                        children,
                    });
                } else {
                    append(out, children);
                }
            }
            // Anything else inline: its content.
            _ => {
                let inner = self.inlines();
                append(out, inner);
            }
        }
    }
}

/// Adds text, joined to the text before it (pulldown-cmark splits text at every
/// character that might have been markup).
fn push_text(out: &mut Vec<Inline>, text: &str) {
    if let Some(Inline::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Inline::Text(text.to_owned()));
    }
}

/// Adds inlines, joining text to text.
fn append(out: &mut Vec<Inline>, inlines: Vec<Inline>) {
    for inline in inlines {
        match inline {
            Inline::Text(text) => push_text(out, &text),
            other => out.push(other),
        }
    }
}

fn flush(plain: &mut Vec<Inline>, blocks: &mut Vec<Block>) {
    if !plain.is_empty() {
        blocks.push(Block::Plain(std::mem::take(plain)));
    }
}

fn is_block(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::BlockQuote(_)
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::List(_)
            | Tag::Table(_)
    )
}

fn is_lang_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#' | '.')
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests;

//! Builds an answer's DOM from the markdown tree (browser only): elements, fixed
//! attributes and text nodes, never HTML strings. Each top-level block's element
//! carries its key in `data-k`; a render rebuilds only the blocks whose key changed.

use protocol::Lang;
use wasm_bindgen::JsValue;
use web_sys::{Document, Element, Node};

use super::{Align, Block, Inline, Item, parse};

type Result<T = ()> = std::result::Result<T, JsValue>;

/// Renders `text` into `host`, reusing the children whose block did not change.
pub fn render(text: &str, host: &Element, lang: Lang) -> Result {
    let Some(document) = host.owner_document() else {
        return Ok(());
    };
    let build = Build { document, lang };
    let children = host.children();
    let blocks = parse(text);
    for (index, keyed) in blocks.iter().enumerate() {
        let key = format!("{:x}", keyed.key);
        let current = children.item(index as u32);
        if current
            .as_ref()
            .is_some_and(|el| el.get_attribute("data-k").as_deref() == Some(key.as_str()))
        {
            continue;
        }
        let element = build.block(&keyed.block)?;
        element.set_attribute("data-k", &key)?;
        match current {
            Some(old) => old.replace_with_with_node_1(&element)?,
            None => {
                host.append_child(&element)?;
            }
        }
    }
    // What is left over: blocks that went away, and the plain text shown before
    // the first render.
    while let Some(extra) = children.item(blocks.len() as u32) {
        extra.remove();
    }
    let mut node = host.first_child();
    while let Some(child) = node {
        node = child.next_sibling();
        if child.node_type() == Node::TEXT_NODE {
            host.remove_child(&child)?;
        }
    }
    Ok(())
}

struct Build {
    document: Document,
    lang: Lang,
}

impl Build {
    fn element(&self, tag: &str) -> Result<Element> {
        self.document.create_element(tag)
    }

    fn text(&self, parent: &Node, text: &str) -> Result {
        parent.append_child(&self.document.create_text_node(text))?;
        Ok(())
    }

    fn block(&self, block: &Block) -> Result<Element> {
        Ok(match block {
            Block::Paragraph(inlines) => self.with_inlines("p", inlines)?,
            Block::Plain(inlines) => self.with_inlines("span", inlines)?,
            Block::Heading(level, inlines) => self.with_inlines(heading_tag(*level), inlines)?,
            Block::Quote(blocks) => self.with_blocks("blockquote", blocks)?,
            Block::Code { lang, text } => self.code(lang.as_deref(), text)?,
            Block::List { start, items } => self.list(*start, items)?,
            Block::Table { align, head, rows } => self.table(align, head, rows)?,
            Block::Rule => self.element("hr")?,
            Block::Raw(text) => {
                let p = self.element("p")?;
                p.set_class_name("raw");
                self.text(&p, text)?;
                p
            }
        })
    }

    fn with_blocks(&self, tag: &str, blocks: &[Block]) -> Result<Element> {
        let element = self.element(tag)?;
        for block in blocks {
            let child = self.block(block)?;
            element.append_child(&child)?;
        }
        Ok(element)
    }

    fn with_inlines(&self, tag: &str, inlines: &[Inline]) -> Result<Element> {
        let element = self.element(tag)?;
        self.inlines(&element, inlines)?;
        Ok(element)
    }

    fn inlines(&self, parent: &Node, inlines: &[Inline]) -> Result {
        for inline in inlines {
            let child = match inline {
                Inline::Text(text) => {
                    self.text(parent, text)?;
                    continue;
                }
                Inline::Code(code) => {
                    let element = self.element("code")?;
                    self.text(&element, code)?;
                    element
                }
                Inline::Emphasis(inner) => self.with_inlines("em", inner)?,
                Inline::Strong(inner) => self.with_inlines("strong", inner)?,
                Inline::Strike(inner) => self.with_inlines("del", inner)?,
                Inline::Link {
                    href,
                    title,
                    children,
                } => {
                    let a = self.with_inlines("a", children)?;
                    a.set_attribute("href", href)?;
                    a.set_attribute("target", "_blank")?;
                    a.set_attribute("rel", "noopener noreferrer")?;
                    if !title.is_empty() {
                        a.set_attribute("title", title)?;
                    }
                    a
                }
                Inline::LineBreak => self.element("br")?,
            };
            parent.append_child(&child)?;
        }
        Ok(())
    }

    /// A fenced block: its language and a Copy button above the code.
    fn code(&self, lang: Option<&str>, text: &str) -> Result<Element> {
        let figure = self.element("div")?;
        figure.set_class_name("code-block");
        let head = self.element("div")?;
        head.set_class_name("code-head");
        let name = self.element("span")?;
        name.set_class_name("code-lang");
        self.text(&name, lang.unwrap_or(""))?;
        let copy = self.element("button")?;
        copy.set_attribute("type", "button")?;
        copy.set_class_name("copy-code");
        self.text(
            &copy,
            crate::i18n::t(self.lang, crate::i18n::Text::CopyCode),
        )?;
        head.append_child(&name)?;
        head.append_child(&copy)?;
        let pre = self.element("pre")?;
        let code = self.element("code")?;
        if let Some(lang) = lang {
            code.set_class_name(&format!("language-{lang}"));
        }
        self.text(&code, text)?;
        pre.append_child(&code)?;
        figure.append_child(&head)?;
        figure.append_child(&pre)?;
        Ok(figure)
    }

    fn list(&self, start: Option<u64>, items: &[Item]) -> Result<Element> {
        let list = self.element(if start.is_some() { "ol" } else { "ul" })?;
        if let Some(start) = start.filter(|s| *s != 1) {
            list.set_attribute("start", &start.to_string())?;
        }
        for item in items {
            let li = self.element("li")?;
            if let Some(checked) = item.task {
                li.set_class_name("task");
                let input = self.element("input")?;
                input.set_attribute("type", "checkbox")?;
                input.set_attribute("disabled", "")?;
                if checked {
                    input.set_attribute("checked", "")?;
                }
                li.append_child(&input)?;
            }
            for block in &item.blocks {
                let child = self.block(block)?;
                li.append_child(&child)?;
            }
            list.append_child(&li)?;
        }
        Ok(list)
    }

    fn table(
        &self,
        align: &[Align],
        head: &[Vec<Inline>],
        rows: &[Vec<Vec<Inline>>],
    ) -> Result<Element> {
        // Wide tables scroll inside the answer instead of widening the page.
        let wrap = self.element("div")?;
        wrap.set_class_name("table-wrap");
        let table = self.element("table")?;
        let thead = self.element("thead")?;
        let row = self.row("th", align, head)?;
        thead.append_child(&row)?;
        table.append_child(&thead)?;
        let tbody = self.element("tbody")?;
        for row in rows {
            let row = self.row("td", align, row)?;
            tbody.append_child(&row)?;
        }
        table.append_child(&tbody)?;
        wrap.append_child(&table)?;
        Ok(wrap)
    }

    fn row(&self, cell_tag: &str, align: &[Align], cells: &[Vec<Inline>]) -> Result<Element> {
        let tr = self.element("tr")?;
        for (i, cell) in cells.iter().enumerate() {
            let element = self.with_inlines(cell_tag, cell)?;
            let class = match align.get(i) {
                Some(Align::Left) => "left",
                Some(Align::Center) => "center",
                Some(Align::Right) => "right",
                _ => "",
            };
            if !class.is_empty() {
                element.set_class_name(class);
            }
            tr.append_child(&element)?;
        }
        Ok(tr)
    }
}

fn heading_tag(level: u8) -> &'static str {
    match level {
        1 => "h1",
        2 => "h2",
        3 => "h3",
        4 => "h4",
        5 => "h5",
        _ => "h6",
    }
}

//! The walkthrough for a terminal: prose wrapped at [`WIDTH`] columns, math
//! indented, tables aligned; bold headings and marked rows, dim notes, when
//! colour is wanted.

use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::steps::{Block, Table, Walkthrough, plain, plain_unbroken};

/// Columns prose is wrapped at.
pub const WIDTH: usize = 80;
const MATH_INDENT: &str = "    ";
const TABLE_INDENT: &str = "  ";

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Columns a character takes on a terminal: two for wide East Asian
/// characters, one otherwise (control characters never reach here).
fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Columns a string takes on a terminal.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Wraps a sentence, keeping its inline math on one line.
fn wrap_sentence(s: &str, max: usize) -> Vec<String> {
    wrap(&plain_unbroken(s), max)
        .into_iter()
        .map(|l| l.replace('\u{a0}', " "))
        .collect()
}

/// Wraps `s` into lines of at most `max` columns. Breaks at spaces, and
/// between wide characters (which need no space between them), but never
/// before full-width punctuation.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    // Split into pieces that may end a line: words with their following
    // space, and single wide characters (with any punctuation after them).
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        let closing = matches!(c, '，' | '。' | '：' | '；' | '、' | '）' | '！' | '？');
        if char_width(c) == 2 && !closing && !cur.is_empty() && !cur.ends_with('（') {
            pieces.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        if c == ' ' {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    // Keep `τ = 0.1` on one line: glue a lone `=` to its neighbours.
    let mut glued: Vec<String> = Vec::with_capacity(pieces.len());
    let mut iter = pieces.into_iter().peekable();
    while let Some(p) = iter.next() {
        if p.trim_end() == "=" {
            let mut g = glued.pop().unwrap_or_default();
            g.push_str(&p);
            g.push_str(&iter.next().unwrap_or_default());
            glued.push(g);
        } else {
            glued.push(p);
        }
    }
    let pieces = glued;
    let mut lines = Vec::new();
    let mut line = String::new();
    for p in pieces {
        let fits = width(&line) + width(p.trim_end()) <= max;
        if !line.is_empty() && !fits {
            lines.push(line.trim_end().to_string());
            line.clear();
        }
        line.push_str(&p);
    }
    if !line.trim_end().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

struct Out {
    s: String,
    color: bool,
}

impl Out {
    fn line(&mut self, style: Option<&str>, text: &str) {
        match style {
            Some(st) if self.color && !text.is_empty() => {
                let _ = writeln!(self.s, "{st}{text}{RESET}");
            }
            _ => {
                let _ = writeln!(self.s, "{text}");
            }
        }
    }

    fn blank(&mut self) {
        self.s.push('\n');
    }

    fn table(&mut self, t: &Table) {
        let cols = t.head.len();
        let mut cells: Vec<Vec<String>> = vec![t.head.iter().map(|m| m.plain.clone()).collect()];
        for r in &t.rows {
            let mut row: Vec<String> = r.cells.iter().map(|m| m.plain.clone()).collect();
            if r.marked {
                row[0].push_str(" *");
            }
            cells.push(row);
        }
        let mut w = vec![0usize; cols];
        for row in &cells {
            for (k, c) in row.iter().enumerate() {
                w[k] = w[k].max(width(c));
            }
        }
        let render = |row: &[String]| -> String {
            let parts: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let pad = " ".repeat(w[k] - width(c));
                    // The first column is a name: left-aligned; figures right.
                    if k == 0 {
                        format!("{c}{pad}")
                    } else {
                        format!("{pad}{c}")
                    }
                })
                .collect();
            format!("{TABLE_INDENT}{}", parts.join("  ").trim_end())
        };
        self.line(Some(BOLD), &render(&cells[0]));
        let rule: Vec<String> = w.iter().map(|&n| "-".repeat(n)).collect();
        self.line(None, &format!("{TABLE_INDENT}{}", rule.join("  ")));
        for (row, r) in cells[1..].iter().zip(&t.rows) {
            self.line(r.marked.then_some(BOLD), &render(row));
        }
    }
}

/// Renders the walkthrough as terminal text.
pub fn render(walk: &Walkthrough, color: bool) -> String {
    let mut o = Out {
        s: String::new(),
        color,
    };
    for (i, b) in walk.doc.iter().enumerate() {
        if i > 0 {
            o.blank();
        }
        match b {
            Block::Title(t) => {
                let t = plain(t);
                o.line(Some(BOLD), &t);
                o.line(None, &"=".repeat(width(&t)));
            }
            Block::Heading(h) => {
                let h = plain(h);
                o.line(Some(BOLD), &h);
                o.line(None, &"-".repeat(width(&h)));
            }
            Block::Para(p) => {
                for l in wrap_sentence(p, WIDTH) {
                    o.line(None, &l);
                }
            }
            Block::Note(p) => {
                for l in wrap_sentence(p, WIDTH) {
                    o.line(Some(DIM), &l);
                }
            }
            Block::Math(lines) => {
                // A line that continues the one before (`= ...`) lines its
                // `=` up under that line's first one.
                let mut eq_col = 0;
                for m in lines {
                    let l = &m.plain;
                    if l.starts_with("= ") {
                        o.line(None, &format!("{MATH_INDENT}{}{l}", " ".repeat(eq_col)));
                    } else {
                        eq_col = l.find(" = ").map_or(0, |i| width(&l[..i]) + 1);
                        o.line(None, &format!("{MATH_INDENT}{l}"));
                    }
                }
            }
            Block::Legend(items) => {
                let sym_w = items
                    .iter()
                    .map(|(m, _)| width(&m.plain))
                    .max()
                    .unwrap_or(0);
                // Long symbols take a line of their own; the rest share it.
                let col = sym_w.min(24);
                let indent = " ".repeat(TABLE_INDENT.len() + col + 2);
                for (m, desc) in items {
                    let sym = &m.plain;
                    let room = WIDTH.saturating_sub(indent.len()).max(20);
                    let lines = wrap_sentence(desc, room);
                    if width(sym) > col {
                        o.line(None, &format!("{TABLE_INDENT}{sym}"));
                        for l in &lines {
                            o.line(None, &format!("{indent}{l}"));
                        }
                    } else {
                        let pad = " ".repeat(col - width(sym));
                        for (k, l) in lines.iter().enumerate() {
                            if k == 0 {
                                o.line(None, &format!("{TABLE_INDENT}{sym}{pad}  {l}"));
                            } else {
                                o.line(None, &format!("{indent}{l}"));
                            }
                        }
                    }
                }
            }
            Block::Table(t) => o.table(t),
        }
    }
    o.s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_twice() {
        assert_eq!(width("z1 分子"), 7);
        assert_eq!(width("τ = 0.1"), 7);
    }

    #[test]
    fn colour_only_when_asked() {
        let walk = Walkthrough {
            doc: vec![
                Block::Heading("1. The formula".into()),
                Block::Para("x".into()),
            ],
            steps: Vec::new(),
        };
        let plain = render(&walk, false);
        assert_eq!(plain, "1. The formula\n--------------\n\nx\n");
        let coloured = render(&walk, true);
        assert!(
            coloured.starts_with("\x1b[1m1. The formula\x1b[0m\n"),
            "{coloured:?}"
        );
    }

    #[test]
    fn wraps_words_and_wide_text() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("分子分母", 4), vec!["分子", "分母"]);
        // Punctuation stays with the character before it.
        assert_eq!(wrap("分子，分母", 4), vec!["分", "子，", "分母"]);
        assert_eq!(wrap("", 10), Vec::<String>::new());
    }

    #[test]
    fn inline_math_stays_on_one_line() {
        use super::super::steps::{Math, im};
        let s = format!("aa {} bb", im(&Math::new("log 3 = 1.1", "\\log 3 = 1.1")));
        assert_eq!(wrap_sentence(&s, 8), vec!["aa", "log 3 = 1.1", "bb"]);
    }
}

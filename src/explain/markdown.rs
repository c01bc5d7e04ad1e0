//! The walkthrough as Markdown with TeX math (`$...$` inline, `$$...$$` for
//! display), which GitHub and Jupyter render.

use std::fmt::Write;

use super::steps::{Block, Math, Walkthrough};

/// Escapes the characters Markdown would take for emphasis.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '|' | '\\' | '`' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A cell or symbol: as text when both spellings agree, else as inline math.
fn inline(m: &Math) -> String {
    if m.plain == m.tex {
        escape(&m.plain)
    } else {
        format!("${}$", m.tex)
    }
}

/// Renders the walkthrough as Markdown.
pub fn render(walk: &Walkthrough) -> String {
    let mut s = String::new();
    for (i, b) in walk.doc.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = match b {
            Block::Title(t) => writeln!(s, "# {}", escape(t)),
            Block::Heading(h) => writeln!(s, "## {}", escape(h)),
            Block::Para(p) => writeln!(s, "{}", escape(p)),
            Block::Note(p) => writeln!(s, "> {}", escape(p)),
            Block::Math(lines) => {
                let blocks: Vec<String> =
                    lines.iter().map(|m| format!("$${}$$\n", m.tex)).collect();
                write!(s, "{}", blocks.join("\n"))
            }
            Block::Legend(items) => {
                for (m, desc) in items {
                    let _ = writeln!(s, "- ${}$: {}", m.tex, escape(desc));
                }
                Ok(())
            }
            Block::Table(t) => {
                let head: Vec<String> = t.head.iter().map(inline).collect();
                let _ = writeln!(s, "| {} |", head.join(" | "));
                let rule: Vec<&str> = (0..t.head.len())
                    .map(|k| if k == 0 { ":---" } else { "---:" })
                    .collect();
                let _ = writeln!(s, "| {} |", rule.join(" | "));
                for r in &t.rows {
                    let cells: Vec<String> = r
                        .cells
                        .iter()
                        .enumerate()
                        .map(|(k, m)| {
                            let c = inline(m);
                            let c = if r.marked && k == 0 {
                                format!("{c} \\*")
                            } else {
                                c
                            };
                            if r.marked && !c.is_empty() {
                                format!("**{c}**")
                            } else {
                                c
                            }
                        })
                        .collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
                Ok(())
            }
        };
    }
    s
}

//! The walkthrough as Markdown with TeX math (`$...$` inline, `$$...$$` for
//! display), which GitHub and Jupyter render.

use std::fmt::Write;

use super::steps::{Block, Math, Span, Walkthrough, spans};

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

/// A sentence: text escaped, code spans in backticks, inline math as
/// `$...$`.
fn text(s: &str) -> String {
    spans(s)
        .into_iter()
        .map(|sp| match sp {
            Span::Text(t) => escape(t),
            Span::Code(c) => format!("`{c}`"),
            Span::Math { tex, .. } => format!("${tex}$"),
        })
        .collect()
}

/// Display math: one `$$...$$` block per equation; an equation followed by
/// lines that continue it (`= ...`) becomes one `aligned` block with the
/// `=` signs lined up.
fn display(lines: &[Math]) -> Vec<String> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for m in lines {
        match blocks.last_mut() {
            Some(b) if m.tex.starts_with("= ") => b.push(&m.tex),
            _ => blocks.push(vec![&m.tex]),
        }
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.len() == 1 {
                return format!("$${}$$\n", b[0]);
            }
            let mut rows = Vec::with_capacity(b.len());
            for (k, l) in b.iter().enumerate() {
                if k == 0 {
                    match l.split_once(" = ") {
                        Some((lhs, rhs)) => rows.push(format!("{lhs} &= {rhs}")),
                        None => rows.push(format!("& {l}")),
                    }
                } else {
                    rows.push(format!("&{l}"));
                }
            }
            format!(
                "$$\n\\begin{{aligned}}\n{}\n\\end{{aligned}}\n$$\n",
                rows.join(" \\\\\n")
            )
        })
        .collect()
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
            Block::Title(t) => writeln!(s, "# {}", text(t)),
            Block::Heading(h) => writeln!(s, "## {}", text(h)),
            Block::Para(p) => writeln!(s, "{}", text(p)),
            Block::Note(p) => writeln!(s, "> {}", text(p)),
            Block::Math(lines) => write!(s, "{}", display(lines).join("\n")),
            Block::Legend(items) => {
                for (m, desc) in items {
                    let _ = writeln!(s, "- ${}$ — {}", m.tex, text(desc));
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

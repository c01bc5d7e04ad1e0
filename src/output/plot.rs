//! `--plot FILE.svg`: pictures of a run, drawn with plotters' SVG backend.
//!
//! The picture is made in memory from the report (never from figures of its
//! own) before anything is written, so a failure to draw it leaves no file
//! behind; [`super::destination`] then writes it as it writes `-o`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::Report;

/// Width and height of a picture, in SVG pixels.
const SIZE: (u32, u32) = (900, 600);

/// Height of the row under the chart that holds the legend: the legend is
/// never drawn over the bars, the curve or the axes.
const LEGEND_ROW: u32 = 34;

/// How an entry of the legend is drawn.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A filled square: the bars.
    Bar(RGBColor),
    /// A line of the given width: a curve or a mark.
    Line(RGBColor, u32),
    /// A ring: the best point.
    Ring(RGBColor),
}

/// The legend as one centred row of entries, each a swatch and its label,
/// in `area` (the strip under the chart).
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 14).into_font();
    let style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center));
    let (swatch, gap, between) = (16, 6, 28);
    let widths: Vec<i32> = entries
        .iter()
        .map(|(_, label)| {
            area.estimate_text_size(label, &style)
                .map_or(0, |(w, _)| w as i32)
        })
        .collect();
    let total: i32 = widths.iter().map(|w| swatch + gap + w).sum::<i32>()
        + between * (entries.len() as i32 - 1).max(0);
    let (w, h) = area.dim_in_pixel();
    let mut x = ((w as i32 - total) / 2).max(0);
    let y = h as i32 / 2;
    for ((kind, label), width) in entries.iter().zip(widths) {
        match *kind {
            Swatch::Bar(c) => area.draw(&Rectangle::new(
                [(x, y - 6), (x + swatch, y + 6)],
                c.filled(),
            ))?,
            Swatch::Line(c, width) => area.draw(&PathElement::new(
                [(x, y), (x + swatch, y)],
                c.stroke_width(width),
            ))?,
            Swatch::Ring(c) => {
                area.draw(&Circle::new((x + swatch / 2, y), 5, c.stroke_width(2)))?
            }
        }
        area.draw(&Text::new(
            label.as_str(),
            (x + swatch + gap, y),
            style.clone(),
        ))?;
        x += swatch + gap + width + between;
    }
    Ok(())
}

/// Fewest and most bars of a histogram.
const BINS: (usize, usize) = (10, 60);

/// The histogram's bars: `n` bins of equal width over `lo..hi`, and the
/// count of `xs` in each (the last bin holds `hi`).
pub fn bins(xs: &[f64], lo: f64, hi: f64, n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    let width = (hi - lo) / n as f64;
    for &x in xs {
        let k = if width > 0.0 {
            ((x - lo) / width).floor()
        } else {
            0.0
        };
        // Saturating casts: NaN and negatives go to bin 0, and x == hi is
        // the last bin's.
        let k = (k.max(0.0) as usize).min(n - 1);
        counts[k] += 1;
    }
    counts
}

/// How many bars `n` values get: about sqrt(n), within [`BINS`].
fn bin_count(n: usize) -> usize {
    ((n as f64).sqrt().ceil() as usize).clamp(BINS.0, BINS.1)
}

/// `text` fit for an SVG title: control characters escaped (XML allows
/// none of them).
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// A figure for a label: 4 significant digits.
fn short(x: f64) -> String {
    super::rounded(x, 4)
}

/// The histogram of the records' losses, with the mean loss and ln |C| (the
/// loss of a model that scores every candidate alike) marked, as SVG text.
/// `file` names the input in the title.
pub fn loss_histogram(report: &Report, file: &str) -> Result<String, String> {
    let s = &report.summary;
    let losses: Vec<f64> = report.records.iter().map(|r| r.loss).collect();
    let chance = (s.n_candidates as f64).ln();
    let (min, max) = losses
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    // From 0 (or the lowest loss, when one is negative) to past both the
    // highest loss and chance, so both marks are on the picture.
    let lo = min.min(0.0);
    let top = max.max(chance).max(s.loss);
    let hi = if top > lo {
        top + 0.05 * (top - lo)
    } else {
        lo + 1.0
    };
    // The bars span the losses only (the axis runs from 0 and on to chance).
    let n = bin_count(losses.len());
    let (start, end) = if max > min { (min, max) } else { (lo, hi) };
    let counts = bins(&losses, start, end, n);
    let width = (end - start) / n as f64;
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let y_top = tallest * 1.08;
    let title = printable(&format!(
        "Loss per anchor: {file}, tau {}",
        crate::output::float(s.tau)
    ));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let (upper, lower) = root.split_vertically(SIZE.1 - LEGEND_ROW);
        let mut chart = ChartBuilder::on(&upper)
            .caption(&title, ("sans-serif", 22))
            .margin(20)
            .margin_bottom(4)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0.0..y_top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("loss of the anchor (nats)")
            .y_desc("anchors")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        let bar = RGBColor(70, 110, 180);
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(k, &c)| {
                        let x0 = start + k as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], bar.filled())
                    }),
            )
            .map_err(err)?;
        // A white edge between neighbouring bars.
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(k, &c)| {
                        let x0 = start + k as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], WHITE.stroke_width(1))
                    }),
            )
            .map_err(err)?;
        let mut legend = vec![(Swatch::Bar(bar), format!("{} anchors", losses.len()))];
        let marks = [
            (s.loss, RED, format!("mean loss {}", short(s.loss))),
            (
                chance,
                BLACK,
                format!("chance: ln |C| = ln {} = {}", s.n_candidates, short(chance)),
            ),
        ];
        for (x, color, label) in marks {
            chart
                .draw_series(LineSeries::new(
                    [(x, 0.0), (x, y_top)],
                    color.stroke_width(2),
                ))
                .map_err(err)?;
            legend.push((Swatch::Line(color, 2), label));
        }
        legend_row(&lower, &legend).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// [`short`] without trailing zeros (0.5, not 0.5000).
fn trimmed(x: f64) -> String {
    let r = short(x);
    if r.contains('.') && !r.contains('e') {
        r.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        r
    }
}

/// With several temperatures, the mean loss against tau on a log axis,
/// the best tau marked, as SVG text; the histogram of the losses otherwise.
pub fn picture(report: &Report, file: &str) -> Result<String, String> {
    match &report.summary.sweep {
        Some(sweep) if sweep.len() > 1 => loss_vs_tau(report, file),
        _ => loss_histogram(report, file),
    }
}

/// The mean loss at each temperature of a sweep, tau on a log axis, with
/// the best tau marked, as SVG text. `file` names the input in the title.
pub fn loss_vs_tau(report: &Report, file: &str) -> Result<String, String> {
    let s = &report.summary;
    let sweep = s.sweep.as_deref().unwrap_or_default();
    // A loss that is not a finite number has no place on the axis.
    let mut points: Vec<(f64, f64)> = sweep
        .iter()
        .map(|e| (e.tau, e.loss))
        .filter(|p| p.1.is_finite())
        .collect();
    if points.is_empty() {
        return loss_histogram(report, file);
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    // Half a step of the log axis beyond each end.
    let pad = if t1 > t0 { (t1 / t0).powf(0.05) } else { 2.0 };
    let (x_lo, x_hi) = (t0 / pad, t1 * pad);
    let (min, max) = points
        .iter()
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let span = if max > min { max - min } else { 1.0 };
    let (y_lo, y_hi) = (min - 0.08 * span, max + 0.08 * span);
    let best = (s.best_tau.unwrap_or(s.tau), s.best_loss.unwrap_or(s.loss));
    let title = printable(&format!(
        "Mean loss against temperature: {file}, best tau {}",
        trimmed(best.0)
    ));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let (upper, lower) = root.split_vertically(SIZE.1 - LEGEND_ROW);
        let mut chart = ChartBuilder::on(&upper)
            .caption(&title, ("sans-serif", 22))
            .margin(20)
            .margin_bottom(4)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("tau (log scale)")
            .y_desc("mean loss (nats)")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .x_label_formatter(&|x| trimmed(*x))
            .y_label_formatter(&|y| trimmed(*y))
            .draw()
            .map_err(err)?;
        let line = RGBColor(70, 110, 180);
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                line.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, line.filled())))
            .map_err(err)?;
        chart
            .draw_series([Circle::new(best, 7, RED.stroke_width(2))])
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(best.0, y_lo), (best.0, y_hi)],
                RED.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
        let legend = [
            (
                Swatch::Line(line, 2),
                format!("{} temperatures in one pass", points.len()),
            ),
            (
                Swatch::Ring(RED),
                format!("best: tau {}, loss {}", trimmed(best.0), trimmed(best.1)),
            ),
        ];
        legend_row(&lower, &legend).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_one_bin_the_top_one_in_the_last() {
        let xs = [0.0, 0.1, 0.5, 0.99, 1.0, -3.0, f64::NAN];
        let c = bins(&xs, 0.0, 1.0, 4);
        assert_eq!(c, [4, 0, 1, 2]);
        assert_eq!(c.iter().sum::<u64>(), xs.len() as u64);
        // A range of zero width puts everything in the first bin.
        assert_eq!(bins(&[2.0, 2.0], 2.0, 2.0, 3), [2, 0, 0]);
    }

    #[test]
    fn bars_grow_with_the_square_root_within_bounds() {
        assert_eq!(bin_count(4), BINS.0);
        assert_eq!(bin_count(900), 30);
        assert_eq!(bin_count(1_000_000), BINS.1);
    }

    #[test]
    fn titles_keep_to_one_printable_line() {
        assert_eq!(printable("a\nb\u{7}.npy"), "a\\nb\\u{7}.npy");
    }
}

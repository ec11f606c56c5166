//! `sse-bench-chart`: an SVG of the fan-out sweep (`bench/sweep.sh`) —
//! latency percentiles at a fixed rate and deliveries/s unthrottled, against
//! subscriber count, one line per peer.
//!
//! Usage: `sse-bench-chart OUT.svg DIR...`, where each DIR holds the
//! `reports.jsonl` of one `bench/fanout.sh` run set (scenarios `a` and `b`).
//! Where several runs share a subscriber count, the chart shows their median,
//! with their range as an error bar.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

/// One JSON report: (scenario, peer, report).
type Report = (char, String, Value);

/// A point: subscribers, then the median, least and greatest value of its runs.
type Point = (u64, f64, f64, f64);

/// Points per peer, sorted by subscribers.
type Series = BTreeMap<String, Vec<Point>>;

/// What each panel plots: its title, y-axis label and scale, scenario and
/// the value read from a report.
struct Panel {
    title: &'static str,
    y_label: &'static str,
    /// Latencies span milliseconds to seconds across peers.
    log_scale: bool,
    scenario: char,
    value: fn(&Value) -> Option<f64>,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "(a) 10 events/s: p50 latency",
        y_label: "ms (log)",
        log_scale: true,
        scenario: 'a',
        value: |r| Some(r["latency"]["p50_us"].as_f64()? / 1000.0),
    },
    Panel {
        title: "(a) 10 events/s: p99 latency",
        y_label: "ms (log)",
        log_scale: true,
        scenario: 'a',
        value: |r| Some(r["latency"]["p99_us"].as_f64()? / 1000.0),
    },
    Panel {
        title: "(b) unthrottled: deliveries/s",
        y_label: "deliveries/s",
        log_scale: false,
        scenario: 'b',
        value: |r| r["deliveries_per_second"].as_f64(),
    },
];

const COLOURS: [RGBColor; 7] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x7f, 0x7f, 0x7f),
];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [out, dirs @ ..] = args.as_slice() else {
        return Err("usage: sse-bench-chart OUT.svg DIR...".into());
    };
    if dirs.is_empty() {
        return Err("usage: sse-bench-chart OUT.svg DIR...".into());
    }
    let reports = read_reports(dirs)?;
    // Our peers first, so they keep their colours from chart to chart.
    let peers: Vec<String> = {
        let mut names: Vec<String> = reports.iter().map(|(_, peer, _)| peer.clone()).collect();
        let rank = |name: &str| match name {
            "hub" => 0,
            "cluster" => 1,
            _ => 2,
        };
        names.sort_by_key(|name| (rank(name), name.clone()));
        names.dedup();
        names
    };
    let root = SVGBackend::new(out, (1500, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((1, PANELS.len())).iter().zip(&PANELS) {
        let series = collect(&reports, panel);
        draw_panel(area, panel, &series, &peers)?;
    }
    root.present()?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Every report of scenario `a` or `b` in the `reports.jsonl` of `dirs`.
fn read_reports(dirs: &[PathBuf]) -> Result<Vec<Report>, Box<dyn Error>> {
    let mut reports = Vec::new();
    for dir in dirs {
        let path = dir.join("reports.jsonl");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let report: Value =
                serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(tagged) = tag(report) {
                reports.push(tagged);
            }
        }
    }
    if reports.is_empty() {
        return Err("no report of scenario a or b in the given directories".into());
    }
    Ok(reports)
}

/// `(scenario, peer, report)` for a report of scenario `a` or `b`.
fn tag(report: Value) -> Option<Report> {
    let scenario = match report["id"].as_str()? {
        "a" => 'a',
        "b" => 'b',
        _ => return None,
    };
    let peer = report["label"].as_str()?.to_owned();
    Some((scenario, peer, report))
}

/// The panel's points per peer; repeated runs at one subscriber count
/// become their median and range.
fn collect(reports: &[Report], panel: &Panel) -> Series {
    let mut runs: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for (scenario, peer, report) in reports {
        if *scenario != panel.scenario {
            continue;
        }
        let (Some(n), Some(y)) = (
            report["connections_requested"].as_u64(),
            (panel.value)(report),
        ) else {
            continue;
        };
        runs.entry(peer.clone())
            .or_default()
            .entry(n)
            .or_default()
            .push(y);
    }
    runs.into_iter()
        .map(|(peer, by_count)| {
            let points = by_count
                .into_iter()
                .map(|(n, mut ys)| {
                    ys.sort_by(f64::total_cmp);
                    (n, ys[ys.len() / 2], ys[0], ys[ys.len() - 1])
                })
                .collect();
            (peer, points)
        })
        .collect()
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    panel: &Panel,
    series: &Series,
    peers: &[String],
) -> Result<(), Box<dyn Error>> {
    let points = series.values().flatten();
    let x_max = points.clone().map(|p| p.0).max().unwrap_or(1);
    let y_min = points.clone().map(|p| p.2).fold(f64::MAX, f64::min);
    let y_max = points.map(|p| p.3).fold(0.0, f64::max);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let x_range = 0..x_max + x_max / 20;
    if panel.log_scale {
        let mut chart = builder.build_cartesian_2d(
            x_range,
            (y_min.max(0.1) / 1.5..y_max.max(1.0) * 1.5).log_scale(),
        )?;
        chart
            .configure_mesh()
            .x_desc("subscribers")
            .y_desc(panel.y_label)
            .y_label_formatter(&|v| {
                if *v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .draw()?;
        draw_lines(&mut chart, series, peers)?;
    } else {
        let mut chart = builder.build_cartesian_2d(x_range, 0.0..y_max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("subscribers")
            .y_desc(panel.y_label)
            .y_label_formatter(&|v| format!("{:.1} M", v / 1e6))
            .draw()?;
        draw_lines(&mut chart, series, peers)?;
    }
    Ok(())
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &Series,
    peers: &[String],
) -> Result<(), Box<dyn Error>>
where
    X: Ranged<ValueType = u64>,
    Y: Ranged<ValueType = f64>,
{
    for (name, points) in series {
        let index = peers.iter().position(|p| p == name).unwrap_or(0);
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(n, y, _, _)| (n, y)),
                colour.stroke_width(2),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(
            points
                .iter()
                .map(|&(n, y, _, _)| Circle::new((n, y), 3, colour.filled())),
        )?;
        chart.draw_series(
            points
                .iter()
                .filter(|&&(_, _, lo, hi)| lo < hi)
                .map(|&(n, _, lo, hi)| {
                    PathElement::new([(n, lo), (n, hi)], colour.stroke_width(1))
                }),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fanout_scenarios_a_and_b_are_charted() {
        let report = |id: &str| serde_json::json!({"id": id, "label": "hub"});
        assert_eq!(
            tag(report("a")).map(|r| (r.0, r.1)),
            Some(('a', "hub".into()))
        );
        assert_eq!(tag(report("b")).map(|r| r.0), Some('b'));
        assert!(tag(report("d")).is_none());
        assert!(tag(serde_json::json!({"label": "hub"})).is_none());
    }

    #[test]
    fn points_are_grouped_by_peer_sorted_and_repeats_give_their_median_and_range() {
        let report = |n: u64, p99: f64| serde_json::json!({"connections_requested": n, "latency": {"p50_us": 1.0, "p99_us": p99}});
        let reports = vec![
            ('a', "hub".to_owned(), report(10_000, 40_000.0)),
            ('a', "hub".to_owned(), report(1_000, 5_000.0)),
            ('b', "hub".to_owned(), report(1_000, 1.0)),
            ('a', "nchan".to_owned(), report(1_000, 9_000.0)),
            ('a', "hub".to_owned(), report(10_000, 90_000.0)),
            ('a', "hub".to_owned(), report(10_000, 30_000.0)),
        ];
        let series = collect(&reports, &PANELS[1]);
        assert_eq!(
            series["hub"],
            [(1_000, 5.0, 5.0, 5.0), (10_000, 40.0, 30.0, 90.0)]
        );
        assert_eq!(series["nchan"], [(1_000, 9.0, 9.0, 9.0)]);
    }
}

//! The report's charts, drawn with plotters into SVG strings. Coordinates are `f64`: a
//! chart places exact figures on a screen and never computes money with them.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// What a chart failed on, as text.
type Drawn = Result<String, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw a chart: {e:?}")
}

/// Bar colours: the run's own, a closed gate, a cap.
pub const BLUE: RGBColor = RGBColor(52, 101, 164);
pub const RED: RGBColor = RGBColor(204, 0, 0);
pub const ORANGE: RGBColor = RGBColor(230, 140, 0);
pub const GREEN: RGBColor = RGBColor(78, 154, 6);
const GREY: RGBColor = RGBColor(120, 120, 120);
/// Colours of the KPIs on the payout curve, in pack order (then repeating).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(52, 101, 164),
    RGBColor(204, 0, 0),
    RGBColor(78, 154, 6),
    RGBColor(117, 80, 123),
    RGBColor(206, 92, 0),
    RGBColor(196, 160, 0),
    RGBColor(6, 152, 154),
    RGBColor(85, 87, 83),
];

/// An axis figure: whole numbers without decimals.
fn figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A label area wide enough for `labels` in the chart's font (about 7 px a character).
fn label_width(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4);
    (longest as u32 * 7 + 12).clamp(40, 420)
}

/// One horizontal bar per row: `value`, coloured `colour`, with a `marker` tick (the
/// target) when given. `unit` is written after the axis figures.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub marker: Option<f64>,
    pub colour: RGBColor,
}

/// Horizontal bars, one per row, labelled on the left.
pub fn bars(caption: &str, rows: &[Bar], axis: &str) -> Drawn {
    let mut svg = String::new();
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let height = 70 + 22 * rows.len().max(1) as u32;
    let top = rows
        .iter()
        .flat_map(|r| [r.value, r.marker.unwrap_or(0.0)])
        .fold(0.0f64, f64::max);
    let low = rows.iter().map(|r| r.value).fold(0.0f64, f64::min);
    let top = if top <= low { low + 1.0 } else { top * 1.05 };
    {
        let root = SVGBackend::with_string(&mut svg, (820, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = rows.len().max(1) as u32;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(label_width(&labels))
            .build_cartesian_2d(low..top, (0..n).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| figure(*v))
            .x_desc(axis)
            .draw()
            .map_err(err)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (r.value, SegmentValue::Exact(i + 1)),
                    ],
                    r.colour.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(err)?;
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                let x = r.marker?;
                let i = i as u32;
                Some(PathElement::new(
                    vec![(x, SegmentValue::Exact(i)), (x, SegmentValue::Exact(i + 1))],
                    BLACK.stroke_width(2),
                ))
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A histogram: the number of managers in each bin, bins labelled `bins`.
pub fn histogram(caption: &str, bins: &[String], counts: &[u32]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (400, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = bins.len() as u32;
        let top = counts.iter().copied().max().unwrap_or(0) + 1;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(30)
            .build_cartesian_2d((0..n).into_segmented(), 0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize)
            .y_labels(top.min(10) as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i % 2 == 0 => {
                    bins.get(*i as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_desc("managers")
            .draw()
            .map_err(err)?;
        // Bars drawn one by one: plotters' Histogram sums through a HashMap, whose order
        // (and so the SVG's bytes) changes from run to run.
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, c)| {
                        let i = i as u32;
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0),
                                (SegmentValue::Exact(i + 1), *c),
                            ],
                            BLUE.filled(),
                        );
                        bar.set_margin(0, 0, 2, 2);
                        bar
                    }),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The pack's payout curve as a line (when it declares one) and every manager's KPIs on
/// it: one series of points per KPI, coloured as in [`PALETTE`].
pub fn curve(curve: Option<&[(f64, f64)]>, kpis: &[(String, Vec<(f64, f64)>)]) -> Drawn {
    let mut svg = String::new();
    let all = curve
        .unwrap_or(&[])
        .iter()
        .chain(kpis.iter().flat_map(|(_, p)| p.iter()));
    let (right, top) = all.fold((1.0f64, 1.0f64), |(x, y), p| (x.max(p.0), y.max(p.1)));
    let bottom = kpis
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(0.0f64, f64::min);
    {
        let root = SVGBackend::with_string(&mut svg, (820, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Payout factor by attainment", ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..right * 1.05, bottom..top * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("attainment")
            .y_desc("payout factor")
            .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(err)?;
        if let Some(points) = curve {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    GREY.stroke_width(2),
                ))
                .map_err(err)?
                .label("the pack's curve")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREY.stroke_width(2)));
        }
        for (i, (label, points)) in kpis.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled())))
                .map_err(err)?
                .label(label.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

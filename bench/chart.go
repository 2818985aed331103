package bench

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
)

// The chart is a hand-written SVG: two panels on one time axis, throughput
// above and latency below, with the run's phases marked. Writing ~150 lines
// of SVG keeps a plotting library (gonum/plot and its font and image
// dependencies) out of the broker's binary, and the result is a text file
// that diffs and renders anywhere.

const (
	chartWidth       = 960
	chartPanelHeight = 260
	chartMarginLeft  = 70
	chartMarginRight = 170 // legend
	chartMarginTop   = 60
	chartGap         = 50
)

type chartLine struct {
	name  string
	color string
	ys    []float64 // one per point of the series
}

// WriteChart draws r's series as SVG.
func WriteChart(w io.Writer, r Result) error {
	bw := bufio.NewWriter(w)
	height := chartMarginTop + 2*chartPanelHeight + chartGap + 40
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", chartWidth, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%d" y="20" font-size="15">floe bench %s — %s (%s)</text>`+"\n",
		chartMarginLeft, html.EscapeString(r.Scenario), html.EscapeString(r.Config.Target), r.Start.Format("2006-01-02 15:04:05"))
	xs := make([]float64, len(r.Series))
	pick := func(f func(Point) float64) []float64 {
		ys := make([]float64, len(r.Series))
		for i, p := range r.Series {
			ys[i] = f(p)
		}
		return ys
	}
	for i, p := range r.Series {
		xs[i] = p.Seconds
	}
	xMax := 1.0
	if n := len(r.Phases); n > 0 {
		xMax = max(xMax, r.Phases[n-1].EndSeconds)
	}
	if n := len(xs); n > 0 {
		xMax = max(xMax, xs[n-1])
	}
	top := []chartLine{{name: "produce MiB/s", color: "#1f77b4", ys: pick(func(p Point) float64 { return p.MiBPerSecond })}}
	bottom := []chartLine{
		{name: "send p50 ms", color: "#2ca02c", ys: pick(func(p Point) float64 { return float64(p.P50) / 1000 })},
		{name: "send p99 ms", color: "#d62728", ys: pick(func(p Point) float64 { return float64(p.P99) / 1000 })},
	}
	if r.E2E != nil || r.Catchup != nil {
		top = append(top, chartLine{name: "consume MiB/s", color: "#ff7f0e", ys: pick(func(p Point) float64 { return p.ConsumeMiBPerSecond })})
	}
	if r.E2E != nil {
		bottom = append(bottom, chartLine{name: "e2e p99 ms", color: "#9467bd", ys: pick(func(p Point) float64 { return float64(p.E2EP99) / 1000 })})
	}
	drawPanel(bw, chartMarginTop, "throughput (MiB/s)", xs, xMax, top, r.Phases)
	drawPanel(bw, chartMarginTop+chartPanelHeight+chartGap, "latency (ms, per second)", xs, xMax, bottom, r.Phases)
	fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="middle">time (s)</text>`+"\n",
		chartMarginLeft+(chartWidth-chartMarginLeft-chartMarginRight)/2, height-8)
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

func drawPanel(w *bufio.Writer, y0 int, title string, xs []float64, xMax float64, lines []chartLine, phases []PhaseSpan) {
	plotW := float64(chartWidth - chartMarginLeft - chartMarginRight)
	plotH := float64(chartPanelHeight)
	x0 := float64(chartMarginLeft)
	yMax := 0.0
	for _, l := range lines {
		for _, y := range l.ys {
			yMax = max(yMax, y)
		}
	}
	step, yTop := niceScale(yMax)
	px := func(x float64) float64 { return x0 + x/xMax*plotW }
	py := func(y float64) float64 { return float64(y0) + plotH - y/yTop*plotH }

	fmt.Fprintf(w, `<text x="%g" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0-8, html.EscapeString(title))
	for i, ph := range phases {
		if i%2 == 1 {
			fmt.Fprintf(w, `<rect x="%.1f" y="%d" width="%.1f" height="%g" fill="#f2f2f2"/>`+"\n",
				px(ph.StartSeconds), y0, px(ph.EndSeconds)-px(ph.StartSeconds), plotH)
		}
		// Alternate two label rows so that short phases do not overprint.
		fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="10" fill="#777">%s</text>`+"\n", px(ph.StartSeconds)+3, y0+12+12*(i%2), html.EscapeString(ph.Name))
	}
	for y := 0.0; y <= yTop+step/2; y += step {
		fmt.Fprintf(w, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, x0+plotW, py(y), py(y))
		fmt.Fprintf(w, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, py(y)+4, formatTick(y))
	}
	xStep, _ := niceScale(xMax)
	for x := 0.0; x <= xMax+xStep/1000; x += xStep {
		fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", px(x), float64(y0)+plotH+16, formatTick(x))
	}
	fmt.Fprintf(w, `<rect x="%g" y="%d" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", x0, y0, plotW, plotH)
	for i, l := range lines {
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, l.color)
		for j, y := range l.ys {
			fmt.Fprintf(w, "%.1f,%.1f ", px(xs[j]), py(y))
		}
		fmt.Fprintln(w, `"/>`)
		ly := y0 + 16 + 18*i
		fmt.Fprintf(w, `<line x1="%g" x2="%g" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x0+plotW+12, x0+plotW+32, ly-4, ly-4, l.color)
		fmt.Fprintf(w, `<text x="%g" y="%d">%s</text>`+"\n", x0+plotW+38, ly, html.EscapeString(l.name))
	}
}

// niceScale picks a tick step of 1, 2 or 5 × 10^k giving about five ticks
// up to at least v, and the axis top.
func niceScale(v float64) (step, top float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 1
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch r := raw / mag; {
	case r <= 1:
		step = mag
	case r <= 2:
		step = 2 * mag
	case r <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	return step, math.Ceil(v/step) * step
}

func formatTick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

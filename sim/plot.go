package sim

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// WriteJSON writes v as indented JSON to dir/name.
func WriteJSON(dir, name string, v any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
}

// Histogram plots the distribution of integer values xs as a bar chart in
// a PNG file.
func Histogram(path, title, xlabel string, xs []int) error {
	counts := map[int]int{}
	hi := 0
	for _, x := range xs {
		counts[x]++
		hi = max(hi, x)
	}
	vals := make(plotter.Values, hi+1)
	for x, c := range counts {
		vals[x] = float64(c) / float64(max(len(xs), 1))
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "share of lookups"
	bars, err := plotter.NewBarChart(vals, vg.Points(20))
	if err != nil {
		return fmt.Errorf("sim: plot %s: %w", path, err)
	}
	p.Add(bars)
	names := make([]string, hi+1)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	p.NominalX(names...)
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// CDF plots the empirical cumulative distribution of xs in a PNG file.
func CDF(path, title, xlabel string, xs []float64) error {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pts := make(plotter.XYs, len(s))
	for i, x := range s {
		pts[i] = plotter.XY{X: x, Y: float64(i+1) / float64(len(s))}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "fraction ≤ x"
	p.Y.Min, p.Y.Max = 0, 1
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("sim: plot %s: %w", path, err)
	}
	p.Add(line)
	p.Add(plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// CorrelationHistogram plots two distributions of correlations in [-1, 1]
// (the pairs that communicate and those that do not) side by side, as the
// share of each in bins of 0.05.
func CorrelationHistogram(path, title string, talk, other []float64) error {
	const bins = 40
	share := func(xs []float64) plotter.Values {
		v := make(plotter.Values, bins)
		for _, x := range xs {
			b := min(max(int((x+1)/2*bins), 0), bins-1)
			v[b] += 1 / float64(len(xs))
		}
		return v
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "correlation (bins of 0.05 from -1 to 1)"
	p.Y.Label.Text = "share of pairs"
	w := vg.Points(5)
	a, err := plotter.NewBarChart(share(talk), w)
	if err != nil {
		return fmt.Errorf("sim: plot %s: %w", path, err)
	}
	b, err := plotter.NewBarChart(share(other), w)
	if err != nil {
		return fmt.Errorf("sim: plot %s: %w", path, err)
	}
	a.Offset, b.Offset = -w/2, w/2
	b.Color = color.RGBA{R: 200, A: 255}
	p.Add(a, b)
	p.Legend.Add("pairs that talk", a)
	p.Legend.Add("pairs that do not", b)
	p.Legend.Top = true
	names := make([]string, bins)
	for i := range names {
		if i%5 == 0 {
			names[i] = fmt.Sprintf("%.2f", -1+float64(i)*2/bins)
		}
	}
	p.NominalX(names...)
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

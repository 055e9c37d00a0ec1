package sim

import (
	"encoding/json"
	"fmt"
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

package sim

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// SoakPlot plots a soak's series in a PNG file, each in percent of its
// mean over the fitted second half, with the fitted lines over that half.
func SoakPlot(path string, res SoakResult) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("soak: %d nodes, %.0f min; heap less store %+.2f %%/min, goroutines %+.1f/min, fds %+.2f/min",
		res.Nodes, res.Minutes, res.Heap.PctPerMin, res.Goroutines.SlopePerMin, res.FDs.SlopePerMin)
	p.X.Label.Text = "minutes since the traffic started"
	p.Y.Label.Text = "% of the mean over the second half"
	series := []struct {
		name string
		tr   SoakTrend
		val  func(SoakSample) float64
		c    color.RGBA
	}{
		{"heap live less store tables (MiB)", res.Heap, func(s SoakSample) float64 { return s.HeapLiveMiB - s.StoreMiB }, color.RGBA{B: 200, A: 255}},
		{"heap live (MiB)", res.HeapLive, func(s SoakSample) float64 { return s.HeapLiveMiB }, color.RGBA{R: 120, G: 120, B: 255, A: 255}},
		{"store tables (MiB)", res.Store, func(s SoakSample) float64 { return s.StoreMiB }, color.RGBA{R: 150, G: 100, A: 255}},
		{"goroutines", res.Goroutines, func(s SoakSample) float64 { return float64(s.Goroutines) }, color.RGBA{R: 200, A: 255}},
		{"open fds", res.FDs, func(s SoakSample) float64 { return float64(s.FDs) }, color.RGBA{G: 150, A: 255}},
	}
	for _, s := range series {
		if s.tr.Mean <= 0 {
			continue
		}
		pts := make(plotter.XYs, len(res.Samples))
		for i, x := range res.Samples {
			pts[i] = plotter.XY{X: x.Seconds / 60, Y: s.val(x) / s.tr.Mean * 100}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("sim: plot %s: %w", path, err)
		}
		l.Color = s.c
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (mean %.0f)", s.name, s.tr.Mean), l)
		// The fitted line over the second half.
		last := res.Samples[len(res.Samples)-1].Seconds / 60
		from := res.FitFromSeconds / 60
		mid := (from + last) / 2
		at := func(m float64) float64 { return (s.tr.Mean + s.tr.SlopePerMin*(m-mid)) / s.tr.Mean * 100 }
		fit, err := plotter.NewLine(plotter.XYs{{X: from, Y: at(from)}, {X: last, Y: at(last)}})
		if err != nil {
			return fmt.Errorf("sim: plot %s: %w", path, err)
		}
		fit.Color = s.c
		fit.Width = vg.Points(2)
		fit.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(fit)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 4*vg.Inch, path)
}

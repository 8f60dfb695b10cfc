package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plots holds what the measures found for the pictures.
type plots struct {
	enforce []enforced // few sidecars, then many
	replay  *replayed
}

var palette = []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 255}, color.RGBA{0xd6, 0x27, 0x28, 255},
	color.RGBA{0x2c, 0xa0, 0x2c, 255}, color.RGBA{0xff, 0x7f, 0x0e, 255}}

// drawPlots writes the PNGs it has data for and returns their names.
func (h *harness) drawPlots(dir string) ([]string, error) {
	var out []string
	if len(h.plots.enforce) > 0 {
		const name = "revoke-to-enforced-cdf.png"
		if err := drawEnforce(h.plots.enforce, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	if h.plots.replay != nil {
		const name = "replay-progress.png"
		if err := drawReplay(h.plots.replay, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// drawEnforce plots the CDF of the client-view latencies (lines) and of
// the sidecars' histograms (points at the bucket bounds).
func drawEnforce(rounds []enforced, path string) error {
	p := plot.New()
	p.Title.Text = "revoke → enforced: cumulative distribution"
	p.X.Label.Text = "milliseconds (log scale)"
	p.Y.Label.Text = "fraction of revocations"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Millimeter, vg.Centimeter
	for i, r := range rounds {
		if len(r.lat) == 0 {
			continue
		}
		l, err := plotter.NewLine(cdf(r.lat))
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		l.Color, l.Width = palette[i%len(palette)], vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("client view, %d sidecars (p99 %s)", r.sidecars, ms(pct(r.lat, .99))), l)
		if pts := histCDF(r.lag); len(pts) > 0 {
			s, err := plotter.NewScatter(pts)
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			s.Color, s.Shape = palette[i%len(palette)], draw.CircleGlyph{}
			p.Add(s)
			p.Legend.Add(fmt.Sprintf("sidecar side, %d sidecars (histogram buckets)", r.sidecars), s)
		}
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// cdf returns at most 2,000 points of the empirical CDF, in milliseconds.
func cdf(lat []time.Duration) plotter.XYs {
	s := slices.Clone(lat)
	slices.Sort(s)
	step := max(1, len(s)/2000)
	var xy plotter.XYs
	for i := 0; i < len(s); i += step {
		xy = append(xy, plotter.XY{X: max(float64(s[i])/1e6, 1e-3), Y: float64(i+1) / float64(len(s))})
	}
	xy = append(xy, plotter.XY{X: max(float64(s[len(s)-1])/1e6, 1e-3), Y: 1})
	return xy
}

// histCDF returns the histogram's cumulative fractions at its finite bounds.
func histCDF(h histogram) plotter.XYs {
	n := h.total()
	if n == 0 {
		return nil
	}
	var xy plotter.XYs
	for i, le := range h.le {
		if math.IsInf(le, 1) {
			break
		}
		xy = append(xy, plotter.XY{X: le * 1e3, Y: h.count[i] / n})
	}
	return xy
}

// drawReplay plots revocations applied (read) over time.
func drawReplay(r *replayed, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("cold replay of %s revocations", count(r.n))
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "revocations (thousands)"
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Centimeter
	for i, s := range []struct {
		label string
		pts   []point
	}{
		{fmt.Sprintf("revocast sidecar: applied (process start → ready %s)", secs(r.ready)), r.sidecar},
		{fmt.Sprintf("raw ordered consumer: read (%s)", secs(last(r.rawPts).at)), r.rawPts},
	} {
		if len(s.pts) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(s.pts))
		for k, pt := range s.pts {
			xy[k] = plotter.XY{X: pt.at.Seconds(), Y: pt.n / 1000}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		l.Color, l.Width = palette[i], vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

func last(pts []point) point {
	if len(pts) == 0 {
		return point{}
	}
	return pts[len(pts)-1]
}

package model

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSweepPoints(t *testing.T) {
	base := DefaultParams()
	pts, err := Sweep(base, SweepSpec{Param: SweepLambda, From: 0, To: 1000, Steps: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 250, 500, 750, 1000}
	if len(pts) != len(want) {
		t.Fatalf("%d points, want %d", len(pts), len(want))
	}
	for i, pt := range pts {
		if pt.X != want[i] || pt.Server.Inputs.Lambda != want[i] || pt.DHT.Inputs.Lambda != want[i] {
			t.Errorf("point %d: x = %v, inputs %v/%v, want %v", i, pt.X, pt.Server.Inputs.Lambda, pt.DHT.Inputs.Lambda, want[i])
		}
		if pt.Server.Design != Server || pt.DHT.Design != DHT {
			t.Errorf("point %d designs %s/%s", i, pt.Server.Design, pt.DHT.Design)
		}
	}
	// λ = 0: both at their no-load values, 1-0.04² and (1-0.04³)⁶.
	near(t, "server(0)", pts[0].Server.Reliability, 0.9984, 1e-12)
	near(t, "dht(0)", pts[0].DHT.Reliability, math.Pow(1-0.04*0.04*0.04, 6), 1e-12)

	// Logarithmic spacing hits both ends exactly.
	pts, err = Sweep(base, SweepSpec{Param: SweepMTTF, From: 1, To: 1000, Steps: 4, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{1, 10, 100, 1000} {
		near(t, "log x", pts[i].X, w, 1e-12*w)
	}
	if pts[0].X != 1 || pts[3].X != 1000 {
		t.Errorf("log sweep ends %v..%v", pts[0].X, pts[3].X)
	}

	// Integer parameters round and drop repeats: 1..4 in 10 steps → 1,2,3,4.
	pts, err = Sweep(base, SweepSpec{Param: SweepReplicas, From: 1, To: 4, Steps: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 {
		t.Fatalf("%d points, want 4", len(pts))
	}
	for i, pt := range pts {
		if pt.Server.Inputs.N != i+1 || pt.DHT.Inputs.M != i+1 {
			t.Errorf("replicas point %d: n=%d m=%d", i, pt.Server.Inputs.N, pt.DHT.Inputs.M)
		}
	}
	// One step is one point at From.
	pts, err = Sweep(base, SweepSpec{Param: SweepK, From: 3, To: 3, Steps: 1})
	if err != nil || len(pts) != 1 || pts[0].DHT.PathLength != 3 {
		t.Fatalf("single-point sweep: %v %+v", err, pts)
	}
	// Supernodes sweep keeps k automatic: 64 → 6, 1024 → 10.
	pts, err = Sweep(base, SweepSpec{Param: SweepSupernodes, From: 64, To: 1024, Steps: 2})
	if err != nil || pts[0].DHT.PathLength != 6 || pts[1].DHT.PathLength != 10 {
		t.Fatalf("supernodes sweep: %v %+v", err, pts)
	}
	// Every sweepable parameter works over a sane range.
	for _, sp := range SweepParams {
		if _, err := Sweep(base, SweepSpec{Param: sp, From: 3, To: 10, Steps: 5}); err != nil {
			t.Errorf("sweep %s: %v", sp, err)
		}
	}
}

func TestSweepErrors(t *testing.T) {
	base := DefaultParams()
	cases := []struct {
		field string
		spec  SweepSpec
	}{
		{"Param", SweepSpec{Param: "bogus", From: 1, To: 2, Steps: 2}},
		{"Steps", SweepSpec{Param: SweepLambda, From: 1, To: 2, Steps: 0}},
		{"Steps", SweepSpec{Param: SweepLambda, From: 1, To: 2, Steps: MaxSweepSteps + 1}},
		{"From", SweepSpec{Param: SweepLambda, From: math.NaN(), To: 2, Steps: 2}},
		{"To", SweepSpec{Param: SweepLambda, From: 1, To: math.Inf(1), Steps: 2}},
		{"To", SweepSpec{Param: SweepLambda, From: 2, To: 1, Steps: 2}},
		{"From", SweepSpec{Param: SweepLambda, From: 0, To: 1, Steps: 2, Log: true}},
		{"From", SweepSpec{Param: SweepN, From: -1e300, To: 1, Steps: 2}},
		// Points outside the domain name the model field.
		{"Lambda", SweepSpec{Param: SweepLambda, From: -1, To: 1, Steps: 2}},
		{"M", SweepSpec{Param: SweepM, From: 1, To: 100, Steps: 10}}, // > 64 supernodes
		{"MTTF", SweepSpec{Param: SweepMTTF, From: 0, To: 10, Steps: 3}},
	}
	for _, c := range cases {
		_, err := Sweep(base, c.spec)
		var pe *ParamError
		if !errors.Is(err, ErrInvalidParam) || !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%+v: err = %v, want field %s", c.spec, err, c.field)
		}
	}
}

func TestWriteCSVAndTable(t *testing.T) {
	pts, err := Sweep(DefaultParams(), SweepSpec{Param: SweepLambda, From: 100, To: 10000, Steps: 7})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, SweepLambda, pts); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("csv rows = %d, header %v", len(rows), rows[0])
	}
	buf.Reset()
	if err := WriteTable(&buf, SweepLambda, pts); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 8 {
		t.Errorf("table has %d lines, want 8", lines)
	}
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func TestWritePlot(t *testing.T) {
	for _, spec := range []SweepSpec{
		{Param: SweepLambda, From: 10, To: 1e6, Steps: 20, Log: true},
		{Param: SweepMTTF, From: 1, To: 100, Steps: 20},
		{Param: SweepReplicas, From: 1, To: 6, Steps: 6},
		{Param: SweepLambda, From: 0, To: 0, Steps: 1}, // flat, one point
	} {
		pts, err := Sweep(DefaultParams(), spec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WritePlot(&buf, spec.Param, pts, PlotOptions{LogX: spec.Log}); err != nil {
			t.Fatalf("%+v: %v", spec, err)
		}
		if !bytes.HasPrefix(buf.Bytes(), pngMagic) || buf.Len() < 1000 {
			t.Errorf("%+v: not a PNG (%d bytes)", spec, buf.Len())
		}
	}
	if err := WritePlot(&bytes.Buffer{}, SweepLambda, nil, PlotOptions{}); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("empty plot: %v", err)
	}
	pts, _ := Sweep(DefaultParams(), SweepSpec{Param: SweepLambda, From: 0, To: 10, Steps: 3})
	if err := WritePlot(&bytes.Buffer{}, SweepLambda, pts, PlotOptions{LogX: true}); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("log axis with x = 0: %v", err)
	}
}

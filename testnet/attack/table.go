package attack

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Row is one attack's measured outcome.
type Row struct {
	// Point is the acceptance point of issue 14 it answers (1–5).
	Point int
	// Attack names what the attacker did.
	Attack string
	// Attempts counts what the attacker tried (messages, CIDs, lookups:
	// Unit says which).
	Attempts int
	// Successes counts the attempts that got the attacker what it wanted
	// (a record visible, a CID hidden, a lie believed, a lookup failed).
	Successes int
	// Unit names what Attempts and Successes count.
	Unit string
	// Outcome is the measurement in words and numbers.
	Outcome string
	// Bound is what must hold.
	Bound string
	// Pass reports whether the bound held.
	Pass bool
	// Pending marks a row that was not run (Outcome says why).
	Pending bool
	// Open marks a weakness measured and documented but not fixed in this
	// issue (docs/security.md, "Limitations"): its verdict is OPEN when the
	// bound fails, and it does not fail the suite.
	Open bool
}

// Verdict is PASS, FAIL or PENDING.
func (r Row) Verdict() string {
	switch {
	case r.Pending:
		return "PENDING"
	case r.Pass:
		return "PASS"
	case r.Open:
		return "OPEN"
	}
	return "FAIL"
}

// Failed is a row for an attack that could not be run at all.
func Failed(point int, attack string, err error) Row {
	return Row{Point: point, Attack: attack, Outcome: "not run: " + err.Error(), Bound: "runs", Pass: false}
}

// Print writes rows as a table.
func Print(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tattack\tattempts\tsuccesses\toutcome\tbound\tverdict")
	for _, r := range rows {
		att, suc := fmt.Sprint(r.Attempts), fmt.Sprint(r.Successes)
		if r.Unit != "" {
			att += " " + r.Unit
		}
		if r.Pending {
			att, suc = "-", "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Point, r.Attack, att, suc, oneLine(r.Outcome), r.Bound, r.Verdict())
	}
	tw.Flush()
}

// Markdown writes rows as a Markdown table (docs/security.md).
func Markdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| # | attack | attempts | successes | outcome | bound | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rows {
		att, suc := fmt.Sprint(r.Attempts), fmt.Sprint(r.Successes)
		if r.Unit != "" {
			att += " " + r.Unit
		}
		if r.Pending {
			att, suc = "–", "–"
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", r.Point, r.Attack, att, suc,
			strings.ReplaceAll(oneLine(r.Outcome), "|", "/"), r.Bound, r.Verdict())
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// AllPass reports whether every row that ran passed (OPEN rows aside).
func AllPass(rows []Row) bool {
	for _, r := range rows {
		if !r.Pending && !r.Open && !r.Pass {
			return false
		}
	}
	return true
}

package quorum

// Answer is one witness's verified answer to an agent's question (its
// signature checked, bound to the question's nonce).
type Answer struct {
	Witness string
	// Cannot: the witness cannot reach the API server either.
	Cannot bool
}

// Majority reports whether the answers hold "cannot" from a strict majority
// of members, the witnesses the agent learned while the API server was up.
// An answer from a witness that is not a member, or a second one from the
// same witness, does not count.
func Majority(members []string, answers []Answer) bool {
	member := make(map[string]bool, len(members))
	for _, m := range members {
		member[m] = true
	}
	counted := map[string]bool{}
	for _, a := range answers {
		if a.Cannot && member[a.Witness] {
			counted[a.Witness] = true
		}
	}
	return len(member) > 0 && 2*len(counted) > len(member)
}

package netguard

// FileReserve is how many descriptors ConnBudget keeps for everything
// but connections (data files, the listener, pollers, logs).
const FileReserve = 64

// ConnBudget returns the largest connection cap that leaves FileReserve
// descriptors free under a soft open-file limit of fileLimit, and whether
// want had to be lowered to it. fileLimit 0 means unknown (no lowering);
// want <= 0 (no cap) is lowered like any cap above the budget. The result
// is at least 1.
func ConnBudget(want int, fileLimit uint64) (n int, lowered bool) {
	if fileLimit == 0 {
		return want, false
	}
	budget := int64(fileLimit) - FileReserve
	if fileLimit > 1<<40 { // effectively unlimited
		return want, false
	}
	if budget < 1 {
		budget = 1
	}
	if want <= 0 || int64(want) > budget {
		return int(budget), true
	}
	return want, false
}

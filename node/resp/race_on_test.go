//go:build race

package resp

func raceEnabledResp() bool { return true }

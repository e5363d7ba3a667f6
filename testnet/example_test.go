package testnet_test

import (
	"fmt"

	"github.com/geocache/geocache/testnet"
)

func ExampleParseScript() {
	steps, err := testnet.ParseScript(`
sleep 4s
partition $0 | *     # the first region against the rest
sleep 10s
heal
converge
`)
	fmt.Println(len(steps), err)
	_, err = testnet.ParseScript("partition us-east")
	fmt.Println(err)
	// Output:
	// 5 <nil>
	// testnet: script line 1: partition needs groups separated by |
}

func ExampleRandomScript() {
	// The same seed always gives the same schedule.
	a := testnet.RandomScript(7, []string{"us-east", "eu-west"}, []string{"us-east-1", "eu-west-1"})
	b := testnet.RandomScript(7, []string{"us-east", "eu-west"}, []string{"us-east-1", "eu-west-1"})
	fmt.Println(a == b)
	// Output: true
}

func ExampleDefaultMatrix() {
	m := testnet.DefaultMatrix()
	fmt.Println(m.RTT("us-east", "eu-west"), m.OneWay("eu-west", "ap-southeast"))
	// Output: 68ms 85ms
}

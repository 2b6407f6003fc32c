package httpapi

import "testing"

func TestConcurrencyLimit(t *testing.T) {
	c := newConcurrencyLimit(2)
	if !c.acquire("a") || !c.acquire("a") {
		t.Fatal("two slots must be free")
	}
	if c.acquire("a") {
		t.Fatal("a third body of the same token must wait")
	}
	if !c.acquire("b") {
		t.Fatal("another token is not limited by the first")
	}
	c.release("a")
	if !c.acquire("a") {
		t.Fatal("a released slot is free again")
	}
	c.release("a")
	c.release("a")
	c.release("b")
	if len(c.active) != 0 {
		t.Fatalf("released keys linger: %v", c.active)
	}
}

package elfdeps

import (
	"fmt"
	"slices"
)

// Node is one object of a closure.
type Node struct {
	*Object
	// Root is true for objects the closure started from.
	Root bool `json:"root,omitempty"`
	// NeededBy is the Path of the object that first needed this one.
	NeededBy string `json:"needed_by,omitempty"`
	// Names are the DT_NEEDED names this object satisfied, sorted.
	Names []string `json:"names,omitempty"`
	// loader is the object whose DT_NEEDED loaded this one (RPATH chain).
	loader *Node
}

// Unresolved is a DT_NEEDED name that could not be found.
type Unresolved struct {
	Name     string `json:"name"`
	NeededBy string `json:"needed_by"`
	Reason   string `json:"reason"`
}

// Graph is the result of Closure.
type Graph struct {
	// Nodes in load order: roots first, then breadth first, as ld.so
	// maps dependencies.
	Nodes []*Node `json:"objects"`
	// Excluded lists DT_NEEDED names skipped by Resolver.Exclude, sorted.
	Excluded []string `json:"excluded,omitempty"`
	// Missing lists names found nowhere, in discovery order.
	Missing []Unresolved `json:"missing,omitempty"`
}

// Closure loads the objects at paths and everything they need,
// breadth first. A name already loaded, by a name it was needed under
// or by its soname, is not searched again, as in ld.so.
func (r *Resolver) Closure(paths ...string) (*Graph, error) {
	g := &Graph{}
	byName := map[string]*Node{}
	byReal := map[string]*Node{}
	excluded := map[string]bool{}
	for _, p := range paths {
		o, err := r.Read(p)
		if err != nil {
			return nil, fmt.Errorf("compute closure: %w", err)
		}
		if n := byReal[o.Real]; n != nil {
			continue
		}
		n := &Node{Object: o, Root: true}
		r.register(g, n, byName, byReal, "")
	}
	for i := 0; i < len(g.Nodes); i++ {
		n := g.Nodes[i]
		for _, name := range n.Needed {
			if r.Exclude != nil && r.Exclude(name) {
				excluded[name] = true
				continue
			}
			if dep := byName[name]; dep != nil {
				continue
			}
			o, err := r.lookup(name, n.Object, loaders(n))
			if err != nil {
				g.Missing = append(g.Missing, Unresolved{Name: name, NeededBy: n.Path, Reason: err.Error()})
				continue
			}
			if dep := byReal[o.Real]; dep != nil {
				byName[name] = dep
				dep.Names = appendSorted(dep.Names, name)
				continue
			}
			dep := &Node{Object: o, NeededBy: n.Path, loader: n}
			r.register(g, dep, byName, byReal, name)
		}
	}
	for name := range excluded {
		g.Excluded = append(g.Excluded, name)
	}
	slices.Sort(g.Excluded)
	return g, nil
}

func (r *Resolver) register(g *Graph, n *Node, byName, byReal map[string]*Node, name string) {
	g.Nodes = append(g.Nodes, n)
	byReal[n.Real] = n
	if name != "" {
		n.Names = appendSorted(n.Names, name)
		byName[name] = n
	}
	if n.Soname != "" {
		byName[n.Soname] = n
	}
}

// loaders returns the loader chain of n, nearest first.
func loaders(n *Node) []*Object {
	var out []*Object
	for l := n.loader; l != nil; l = l.loader {
		out = append(out, l.Object)
	}
	return out
}

func appendSorted(s []string, v string) []string {
	if i, found := slices.BinarySearch(s, v); !found {
		s = slices.Insert(s, i, v)
	}
	return s
}

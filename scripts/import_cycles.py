"""Fail when any two modules of the package import each other, directly or through others.

import-linter's contracts check the layers between folders; this checks what they cannot:
cycles between single modules, counting imports inside functions (a late import that dodges a
cycle at import time is still a cycle for a reader) and not those under ``TYPE_CHECKING``.
Uses grimp, the graph library import-linter is built on. Run by ``make lint``.
"""

from __future__ import annotations

import sys

import grimp

PACKAGE = "airflow_provider_okx"


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def main() -> int:
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)
    found = cycles(graph)
    for component in found:
        a, b = component[0], component[1]
        chain = graph.find_shortest_chain(importer=a, imported=b) or []
        back = graph.find_shortest_chain(importer=b, imported=a) or []
        print(f"import cycle among {', '.join(component)}:")
        print(f"  {' -> '.join(chain)}")
        print(f"  {' -> '.join(back)}")
    if found:
        return 1
    print(f"no import cycle among the {len(graph.modules)} modules of {PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Static checks of the benchmark scripts (bench/*.py), with the standard library only: CI has no PyTorch,
so the PyTorch side of the harness never runs there, and a slip in it shows only when someone benchmarks.

- every script parses;
- no statement is unreachable: nothing follows a return, raise, continue or break in the same block (an
  edit once left FrozenInTime.forward after `return` in another function: the training job's PyTorch
  worker then had no forward and failed, and no test ran it);
- every torch.nn.Module subclass defines forward, itself or through a base class in the same file;
- every name a module imports from a sibling script (`import torch_models as tm` ... `tm.NAME`) exists there
  at module level.

    python3 tests/bench_scripts_test.py [bench dir]
"""
import ast
import pathlib
import sys

ENDS_BLOCK = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def unreachable(tree):
    """(line, what) of each statement that follows a block-ending one in the same block."""
    found = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for a, b in zip(block, block[1:]):
                if isinstance(a, ENDS_BLOCK):
                    what = getattr(b, "name", type(b).__name__)
                    found.append((b.lineno, f"{what} after {type(a).__name__.lower()} on line {a.lineno}"))
    return found


def modules_without_forward(tree):
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}

    def base_names(c):
        return [ast.unparse(b) for b in c.bases]

    def is_module(c, seen=()):
        return any(b in ("nn.Module", "torch.nn.Module", "Module") or
                   (b in classes and b not in seen and is_module(classes[b], seen + (b,)))
                   for b in base_names(c))

    def has_forward(c, seen=()):
        if any(isinstance(f, ast.FunctionDef) and f.name == "forward" for f in c.body):
            return True
        return any(b in classes and b not in seen and has_forward(classes[b], seen + (b,))
                   for b in base_names(c))

    return [(c.lineno, c.name) for c in classes.values() if is_module(c) and not has_forward(c)]


def top_level_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def missing_sibling_names(tree, siblings):
    """Attributes used on an imported sibling script that it does not define at module level."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in siblings:
                    aliases[a.asname or a.name] = a.name
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr not in siblings[aliases[node.value.id]]):
            found.append((node.lineno, f"{node.value.id}.{node.attr} is not defined in "
                                       f"{aliases[node.value.id]}.py"))
    return found


def main():
    bench = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[1] / "bench")
    scripts = sorted(bench.glob("*.py"))
    if not scripts:
        print(f"no scripts in {bench}")
        return 1
    trees, problems = {}, []
    for path in scripts:
        try:
            trees[path] = ast.parse(path.read_text(), str(path))
        except SyntaxError as e:
            problems.append(f"{path}:{e.lineno}: {e.msg}")
    siblings = {p.stem: top_level_names(t) for p, t in trees.items()}
    for path, tree in trees.items():
        for line, what in unreachable(tree):
            problems.append(f"{path}:{line}: unreachable: {what}")
        for line, name in modules_without_forward(tree):
            problems.append(f"{path}:{line}: nn.Module subclass {name} has no forward")
        for line, what in missing_sibling_names(tree, siblings):
            problems.append(f"{path}:{line}: {what}")
    for p in problems:
        print(p)
    print(f"{len(scripts)} scripts, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

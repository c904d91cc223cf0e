"""``--format json``: the contract, compared with dicts written by hand and validated against the schema."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from dataclasses import replace

from linkaudit.baseline import Baseline, BaselineEntry
from linkaudit.config import AllowRule
from linkaudit.formats.json import JsonFormat
from linkaudit.gate import GatePolicy, evaluate
from linkaudit.report import (Category, FindingKind, FoundVia, MissingLibrary, ObjectReport, Report, SearchStep,
                              Status)

from .conftest import EXT, STATIC, TORCH

T = str(TORCH)


def _needed(**fields):
    base = {"name": None, "path": None, "found_via": None, "status": None, "category": None, "symbols": [],
            "bindings": [], "python_package": None, "drags": [], "drags_bytes": 0, "has_initializers": False,
            "searched": [], "candidates": [], "uncertain": None, "loads_providers": []}
    base.update(fields)
    return base


EXPECTED_EXT = {
    "path": EXT,
    "machine": "x86_64",
    "abi": "x86_64",
    "elf_class": 64,
    "libc": "glibc",
    "soname": None,
    "is_python_extension": True,
    "needed": [
        _needed(name="libc10.so", path=f"{T}/libc10.so", found_via="python_package", status="used",
                category="torch", symbols=["_ZN3c1019UndefinedTensorImpl10_singletonE"],
                bindings=[{"symbol": "_ZN3c1019UndefinedTensorImpl10_singletonE", "version": None, "weak": False,
                           "owner": None}],
                python_package="torch"),
        _needed(name="libtorch.so", path=f"{T}/libtorch.so", found_via="runpath", status="unused", category="torch",
                drags=[f"{T}/libtorch_cpu.so"], drags_bytes=434_000_000, has_initializers=True),
        _needed(name="libgomp.so.1", path="/usr/lib/libgomp.so.1", found_via="ld.so.cache", status="incidental",
                category="openmp", symbols=["omp_get_num_threads"],
                bindings=[{"symbol": "omp_get_num_threads", "version": "OMP_1.0", "weak": True,
                           "owner": "libtorch_cpu.so (OMP_1.0)"}]),
        _needed(name="libmissing.so.2", status="missing", category="other",
                searched=[{"directory": "/opt/app/lib", "source": f"RUNPATH of {EXT}", "via": "runpath"},
                          {"directory": "/usr/lib", "source": "default", "via": "default"}],
                candidates=["/srv/other/libmissing.so.2"]),
    ],
    "unresolved": ["_Z3foov"],
    "missing_transitive": [],
    "host_provided": ["PyModule_Create2"],
    "ldd_unused": [f"{T}/libtorch.so"],
    "loaded": [
        {"name": "libc10.so", "path": f"{T}/libc10.so", "soname": "libc10.so", "found_via": "python_package",
         "category": "torch", "size": 1000, "depth": 1, "needed_by": [EXT], "only_for_unneeded": False},
        {"name": "libtorch.so", "path": f"{T}/libtorch.so", "soname": "libtorch.so", "found_via": "runpath",
         "category": "torch", "size": 2000, "depth": 1, "needed_by": [EXT], "only_for_unneeded": False},
        {"name": "libgomp.so.1", "path": "/usr/lib/libgomp.so.1", "soname": "libgomp.so.1",
         "found_via": "ld.so.cache", "category": "openmp", "size": 300, "depth": 1,
         "needed_by": [EXT, f"{T}/libtorch_cpu.so"], "only_for_unneeded": False},
        {"name": "libtorch_cpu.so", "path": f"{T}/libtorch_cpu.so", "soname": "libtorch_cpu.so",
         "found_via": "runpath", "category": "torch", "size": 434_000_000, "depth": 2,
         "needed_by": [f"{T}/libtorch.so"], "only_for_unneeded": True},
    ],
    # 4 entries, one of each status; 1000 + 2000 + 300 + 434e6 bytes loaded, libtorch_cpu only for libtorch.so
    "summary": {"needed": 4, "used": 1, "unused": 1, "incidental": 1, "missing": 1, "not_on_host": 0, "missing_transitive": 0,
                "loaded": 4,
                "loaded_bytes": 434_003_300, "unneeded_libraries": 1, "unneeded_bytes": 434_000_000},
    "suggestions": [{"kind": "libraries", "title": "link only c10", "text": "libraries=['c10']",
                     "removes": ["libtorch.so"], "saves_libraries": 1, "saves_bytes": 434_002_000, "caution": None}],
    # one finding of each kind; only "unused" is gated by default
    "findings": [
        {"kind": "unused", "name": "libtorch.so", "gated": True, "fails": True, "allowed": None, "baselined": False},
        {"kind": "incidental", "name": "libgomp.so.1", "gated": False, "fails": False, "allowed": None,
         "baselined": False},
        {"kind": "missing", "name": "libmissing.so.2", "gated": False, "fails": False, "allowed": None,
         "baselined": False},
        {"kind": "unresolved", "name": "_Z3foov", "gated": False, "fails": False, "allowed": None, "baselined": False},
    ],
    "warnings": ["example warning"],
    "rpath": None, "runpath": None, "rpath_findings": [],
}

EXPECTED_STATIC = {
    "path": STATIC, "machine": "x86_64", "abi": "x86_64", "elf_class": 64, "libc": "glibc", "soname": None, "is_python_extension": False,
    "needed": [], "unresolved": [], "missing_transitive": [], "host_provided": [], "ldd_unused": [], "loaded": [],
    "summary": {"needed": 0, "used": 0, "unused": 0, "incidental": 0, "missing": 0, "not_on_host": 0,
                "missing_transitive": 0, "loaded": 0, "loaded_bytes": 0,
                "unneeded_libraries": 0, "unneeded_bytes": 0},
    "suggestions": [], "findings": [], "warnings": ["statically linked: no dynamic dependencies"],
    "rpath": None, "runpath": None, "rpath_findings": [],
}

# the default gate (--fail-on unused): libtorch.so fails it, and the input error makes the exit code 2
EXPECTED_GATE = {"exit_code": 2, "passed": False, "fail_on": ["unused"],
                 "failing": [{"object": EXT, "kind": "unused", "name": "libtorch.so"}], "no_objects": False}


def test_sample_report_matches_hand_written_dict(sample_report: Report) -> None:
    data = json.loads(JsonFormat().format(sample_report))
    assert data == {"schema": 2, "gate": EXPECTED_GATE, "objects": [EXPECTED_EXT, EXPECTED_STATIC], "wheels": [],
                    "errors": [{"path": "notes.txt", "message": "not an ELF file"}],
                    "loader": [EXPECTED_LOADER]}


def test_empty_report(empty_report: Report) -> None:
    # a report nobody evaluated is not held to --allow-empty
    gate = {"exit_code": 0, "passed": True, "fail_on": ["unused"], "failing": [], "no_objects": False}
    assert json.loads(JsonFormat().format(empty_report)) == {"schema": 2, "gate": gate, "objects": [], "wheels": [], "errors": [],
                                                                   "loader": []}


def test_no_objects_fails_the_gate(empty_report: Report, report_schema: dict) -> None:
    data = json.loads(JsonFormat().format(evaluate(empty_report)))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    assert data["gate"] == {"exit_code": 2, "passed": False, "fail_on": ["unused"], "failing": [], "no_objects": True}
    allowed = json.loads(JsonFormat().format(evaluate(empty_report, GatePolicy(allow_empty=True))))
    assert allowed["gate"]["exit_code"] == 0 and allowed["gate"]["no_objects"] is False


def test_gate_decisions_per_finding(sample_report: Report, report_schema: dict) -> None:
    """Allowed (with the reason) and baselined findings are marked; only the rest fail, and the gate lists them."""
    policy = GatePolicy(frozenset({FindingKind.UNUSED, FindingKind.MISSING, FindingKind.INCIDENTAL}),
                        allow=(AllowRule("libgomp*", "OpenMP comes with torch"),),
                        baseline=Baseline(frozenset({BaselineEntry("_C.so", FindingKind.UNUSED, "libtorch.so")})))
    data = json.loads(JsonFormat().format(evaluate(replace(sample_report, errors=()), policy)))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    findings = {f["name"]: f for f in data["objects"][0]["findings"]}
    assert findings["libgomp.so.1"] == {"kind": "incidental", "name": "libgomp.so.1", "gated": True, "fails": False,
                                        "allowed": "OpenMP comes with torch", "baselined": False}
    assert findings["libtorch.so"] == {"kind": "unused", "name": "libtorch.so", "gated": True, "fails": False,
                                       "allowed": None, "baselined": True}
    assert findings["libmissing.so.2"]["fails"] is True
    assert data["gate"] == {"exit_code": 1, "passed": False, "fail_on": ["unused", "incidental", "missing"],
                            "failing": [{"object": EXT, "kind": "missing", "name": "libmissing.so.2"}],
                            "no_objects": False}


def test_schema_names_every_finding_kind(report_schema: dict) -> None:
    assert report_schema["$defs"]["finding_kind"]["enum"] == [k.value for k in FindingKind]


def test_schema_enums_are_the_models_words(report_schema: dict) -> None:
    """One vocabulary: the JSON values are the enums' values, word for word (found_via's pathname included)."""
    defs = report_schema["$defs"]
    assert defs["found_via"]["enum"] == [v.value for v in FoundVia]
    assert defs["status"]["enum"] == [v.value for v in Status]
    assert defs["category"]["enum"] == [v.value for v in Category]


# What the sample says the loader assumed (Haswell-class AVX-512 Intel, glibc 2.36), and the
# subdirectories glibc 2.36 searches for it: glibc-hwcaps levels, then the legacy power set.
EXPECTED_LOADER = {
    "abi": "x86_64", "platform": "haswell", "platform_source": "override",
    "hwcaps": ["x86_64", "avx512_1"], "hwcaps_source": "host cpuinfo",
    "glibc_hwcaps": ["x86-64-v3", "x86-64-v2"], "glibc_hwcaps_source": "host cpuinfo",
    "glibc_version": "2.36", "glibc_version_source": "host libc",
    "subdirectories": [
        "glibc-hwcaps/x86-64-v3", "glibc-hwcaps/x86-64-v2",
        "tls/haswell/avx512_1/x86_64", "tls/haswell/avx512_1", "tls/haswell/x86_64", "tls/haswell",
        "tls/avx512_1/x86_64", "tls/avx512_1", "tls/x86_64", "tls",
        "haswell/avx512_1/x86_64", "haswell/avx512_1", "haswell/x86_64", "haswell",
        "avx512_1/x86_64", "avx512_1", "x86_64",
    ],
    "warnings": [],
}


def test_output_is_one_json_document_ending_in_newline(sample_report: Report) -> None:
    text = JsonFormat().format(sample_report)
    assert text.endswith("}\n")
    json.loads(text)


def test_each_object_is_written_as_json_dumps_writes_it(sample_report: Report) -> None:
    """Bindings are encoded once and spliced into their object: byte for byte what the json module writes."""
    from linkaudit.report import Binding, Owner

    shared = Binding('q"uote\\ \u00e9 \udcff \u2028', None, True, "/lib/libx.so", Owner("libx.so.1", "X_1"))
    ext = sample_report.objects[0]
    needed = tuple(replace(n, bindings=n.bindings + (shared, shared, Binding("plain", "V", False, None)))
                   for n in ext.needed)
    report = replace(sample_report, objects=(replace(ext, needed=needed),) + sample_report.objects[1:])
    text = JsonFormat().format(report)
    data = json.loads(text)
    objects = text.split('"objects": [\n', 1)[1].split("\n]", 1)[0].split(",\n")
    assert objects == [json.dumps(o) for o in data["objects"]]  # the stdlib's encoding of what was decoded
    first = data["objects"][0]["needed"][0]
    shown = 'q"uote\\ \u00e9 \\xff \u2028'  # an undecodable byte reads \xff, as everywhere in the document
    assert first["bindings"][-3:-1] == [{"symbol": shown, "version": None, "weak": True,
                                         "owner": "libx.so.1 (X_1)"}] * 2
    assert first["symbols"][-3:] == [shown, shown, "plain"]


@pytest.mark.parametrize("fixture", ["sample_report", "clean_report", "empty_report"])
def test_validates_against_shipped_schema(fixture: str, request: pytest.FixtureRequest, report_schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema)
    data = json.loads(JsonFormat().format(request.getfixturevalue(fixture)))
    jsonschema.Draft202012Validator(report_schema).validate(data)


def test_schema_requires_every_emitted_field(report_schema: dict) -> None:
    """The schema is closed: it names exactly the keys json.py emits (no more, no fewer)."""
    defs = report_schema["$defs"]
    assert set(report_schema["required"]) == {"schema", "gate", "objects", "wheels", "errors", "loader"}
    assert set(defs["gate"]["required"]) == set(EXPECTED_GATE)
    assert set(defs["finding"]["required"]) == set(EXPECTED_EXT["findings"][0])
    assert set(defs["object"]["required"]) == set(EXPECTED_EXT)
    assert set(defs["loader"]["required"]) == set(EXPECTED_LOADER)
    assert set(defs["needed"]["required"]) == set(EXPECTED_EXT["needed"][0])
    assert set(defs["loaded"]["required"]) == set(EXPECTED_EXT["loaded"][0])
    assert set(defs["summary"]["required"]) == set(EXPECTED_EXT["summary"])
    assert set(defs["missing_library"]["required"]) == {"name", "needed_by", "why", "searched"}
    for name in ("object", "needed", "loaded", "summary", "binding", "search_step", "suggestion", "error", "gate",
                 "finding", "loader", "missing_library"):
        assert defs[name]["additionalProperties"] is False, name


@pytest.mark.parametrize(("where", "value"), [
    (("objects", 0, "needed", 0, "status"), "maybe"),
    (("objects", 0, "needed", 0, "found_via"), "magic"),
    (("objects", 0, "loaded", 0, "category"), "gpu"),
    (("schema",), 1),
    (("objects", 0, "summary", "used"), -1),
    (("loader", 0, "glibc_version"), "2.36.1"),
])
def test_schema_rejects_bad_values(where: tuple, value: object, sample_report: Report, report_schema: dict) -> None:
    data = json.loads(JsonFormat().format(sample_report))
    bad = copy.deepcopy(data)
    node = bad
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(report_schema).validate(bad)


def test_schema_rejects_unknown_key(sample_report: Report, report_schema: dict) -> None:
    data = json.loads(JsonFormat().format(sample_report))
    data["objects"][0]["needed"][0]["surprise"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(report_schema).validate(data)


@pytest.mark.requires_cc
def test_real_audit_validates(build_so, report_schema: dict, tmp_path) -> None:
    """A compiled fixture: one used and one unused library of our own, found through $ORIGIN."""
    from linkaudit.audit import AuditOptions, audit

    lib_dir = tmp_path / "lib"
    build_so("libjused.so", "int used_fn(void) { return 1; }", out_dir=lib_dir)
    build_so("libjunused.so", "int unused_fn(void) { return 2; }", out_dir=lib_dir)
    target = build_so("libjtarget.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=lib_dir,
                      libs=["jused", "junused"], lib_dirs=[lib_dir], runpath=["$ORIGIN"])
    report = audit([str(target)], AuditOptions())
    data = json.loads(JsonFormat().format(report))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    (obj,) = data["objects"]
    status = {n["name"]: n["status"] for n in obj["needed"]}
    assert status["libjused.so"] == "used"
    assert status["libjunused.so"] == "unused"
    assert {n["name"]: n["found_via"] for n in obj["needed"]}["libjused.so"] == "runpath"
    assert data["errors"] == []


@pytest.mark.requires_cc
def test_a_needed_path_name_is_found_via_pathname(build_so, report_schema: dict, tmp_path) -> None:
    """A DT_NEEDED string with a slash is opened as a path name, by no search rule."""
    from linkaudit.audit import AuditOptions, audit

    lib = build_so("libjpath.so", "int used_fn(void) { return 1; }", out_dir=tmp_path, soname=False)
    target = build_so("libjbypath.so", "int used_fn(void);\nint f(void) { return used_fn(); }", out_dir=tmp_path,
                      libs=[lib])
    data = json.loads(JsonFormat().format(audit([str(target)], AuditOptions())))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    needed = {n["name"]: n for n in data["objects"][0]["needed"]}
    assert needed[str(lib)]["found_via"] == "pathname" and needed[str(lib)]["status"] == "used"


def test_library_missing_further_down_is_listed_and_a_missing_finding(report_schema: dict) -> None:
    """A library a dependency needs that is not found: its record, its count, and a ``missing`` finding."""
    step = SearchStep("/opt/app/lib", "RUNPATH of /opt/app/lib/libmid.so", FoundVia.RUNPATH)
    gone = MissingLibrary("libgone.so", "/opt/app/lib/libmid.so",
                          "cannot open shared object file: No such file or directory", (step,))
    obj = ObjectReport("bin/app", "x86_64", 64, None, (), (), (), missing_transitive=(gone,))
    data = json.loads(JsonFormat().format(evaluate(Report(objects=(obj,)), GatePolicy(fail_on=frozenset(
        {FindingKind.MISSING})))))
    jsonschema.Draft202012Validator(report_schema).validate(data)
    out = data["objects"][0]
    assert out["missing_transitive"] == [{
        "name": "libgone.so", "needed_by": "/opt/app/lib/libmid.so",
        "why": "cannot open shared object file: No such file or directory",
        "searched": [{"directory": "/opt/app/lib", "source": "RUNPATH of /opt/app/lib/libmid.so", "via": "runpath"}]}]
    assert out["summary"]["missing_transitive"] == 1 and out["summary"]["missing"] == 0
    assert out["findings"] == [{"kind": "missing", "name": "libgone.so", "gated": True, "fails": True,
                                "allowed": None, "baselined": False}]
    assert data["gate"]["exit_code"] == 1

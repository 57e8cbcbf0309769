"""``_NT_SYMBOL_PATH`` parsing and store keys (grammar and keys: pdb-symbols.md 2.5, 6.3)."""

from __future__ import annotations

import pytest

from dumptriage.symbols.keys import compressed_name, debug_id, image_key, pdb_key
from dumptriage.symbols.search_path import Chain, from_environment, parse

DEFAULT = "/default/sym"
MSDL = "https://msdl.microsoft.com/download/symbols"


def chains(text: str) -> tuple[Chain, ...]:
    return parse(text, default=DEFAULT).chains


def test_plain_folder() -> None:
    assert chains("/syms") == (Chain(("/syms",), None, "dir"),)


def test_srv_with_cache_and_server() -> None:
    assert chains(f"srv*/c*{MSDL}") == (Chain(("/c", MSDL), "/c", "srv"),)


def test_srv_keyword_is_case_insensitive_and_symsrv_is_the_long_form() -> None:
    assert chains(f"SRV*/c*{MSDL}") == chains(f"symsrv*symsrv.dll*/c*{MSDL}")


def test_srv_url_alone_gets_the_default_downstream_store() -> None:
    # Microsoft: an HTTP store always gets a downstream store, even if none is named.
    assert chains(f"srv*{MSDL}") == (Chain((DEFAULT, MSDL), DEFAULT, "srv"),)


def test_empty_token_is_the_default_store() -> None:
    assert chains(f"srv**{MSDL}") == (Chain((DEFAULT, MSDL), DEFAULT, "srv"),)


def test_cache_applies_to_elements_on_its_right() -> None:
    got = chains(f"/a;cache*/c;/b;srv*{MSDL}")
    assert got == (Chain(("/a",), None, "dir"), Chain(("/b",), "/c", "dir"),
                   Chain(("/c", MSDL), "/c", "srv"))


def test_empty_cache_is_the_default() -> None:
    assert chains("cache*;/b") == (Chain(("/b",), DEFAULT, "dir"),)


def test_chain_of_local_stores() -> None:
    got = chains(f"srv*/bottom*/mid*{MSDL}")
    assert got == (Chain(("/bottom", "/mid", MSDL), "/bottom", "srv"),)
    assert got[0].urls == (MSDL,) and got[0].folders == ("/bottom", "/mid")


def test_windows_paths_warn_but_never_raise() -> None:
    path = parse(r"C:\symbols;\\server\share;srv*c:\cache*" + MSDL, default=DEFAULT)
    assert len(path.warnings) == 3
    assert path.names_url


def test_odd_elements_are_warnings() -> None:
    path = parse(f"foo*bar;;  ;{MSDL}*x;symsrv*dll", default=DEFAULT)
    assert path.warnings
    assert all(isinstance(c, Chain) for c in path.chains)


def test_no_url_means_no_network() -> None:
    assert not parse("/a;srv*/b;cache*/c", default=DEFAULT).names_url


def test_explicit_path_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_NT_SYMBOL_PATH", "/env")
    assert from_environment("/cli") == "/cli"
    assert from_environment(None) == "/env"
    monkeypatch.delenv("_NT_SYMBOL_PATH")
    assert from_environment(None) is None


def test_pdb_key_uses_hex_age_without_padding() -> None:
    # pdb-symbols.md 2.5: age 10 is "A"; the store name is the RSDS path's basename.
    key = pdb_key(r"d:\os\obj\amd64fre\x\amdppm.pdb", "1C19FDDB27BB3399D9B45973EFEAFCF3", 10)
    assert key.path == "amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF3A/amdppm.pdb"
    assert key.two_tier_path() == "am/amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF3A/amdppm.pdb"


def test_image_key_pads_the_timestamp_not_the_size() -> None:
    # symstore: %08X TimeDateStamp + %x SizeOfImage (the corpus store's amdppm.sys key).
    assert image_key("amdppm.sys", 0xC9C03000, 0x3B000).key == "C9C030003b000"
    assert image_key("x.sys", 0x3ED0F42, 0xAB2000).key == "03ED0F42ab2000"


def test_compressed_names_and_debug_id() -> None:
    assert compressed_name("amdppm.pdb") == "amdppm.pd_"
    assert compressed_name("Wdf01000.sys") == "Wdf01000.sy_"
    assert debug_id("1C19FDDB27BB3399D9B45973EFEAFCF3", 1) == (
        "1c19fddb-27bb-3399-d9b4-5973efeafcf3-1")

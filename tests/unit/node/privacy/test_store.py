"""The person-key secret file and the blob store on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from node.errors import BlobCorruptError, ConfigError
from node.privacy.blobs import BlobStore
from node.privacy.personkeys import KeyRequest, PersonKeySecrets, PersonKeyService
from wire.idnumber import person_key

VALID = "11010519491231002X"


def secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "person_key.secret"
    p.write_text(text)
    p.chmod(mode)
    return p


def test_secret_versions_mode_and_format(tmp_path: Path) -> None:
    s = PersonKeySecrets.load(secret_file(tmp_path, f"# rotated 2025\n1:{'aa' * 32}\n\n2:{'bb' * 32}\n"))
    assert s.current == 2 and s.versions == (1, 2) and "aa" not in repr(s)
    with pytest.raises(ConfigError, match="chmod 600"):
        PersonKeySecrets.load(secret_file(tmp_path, f"1:{'aa' * 32}\n", 0o640))
    for bad, words in [
        ("", "no secret"),
        ("1:zz\n", "not `version:hex`"),
        (f"0:{'aa' * 32}\n", ">= 1"),
        ("1:abcd\n", "shorter"),
        (f"1:{'aa' * 32}\n1:{'bb' * 32}\n", "twice"),
    ]:
        with pytest.raises(ConfigError, match=words):
            PersonKeySecrets.load(secret_file(tmp_path, bad))
    with pytest.raises(ConfigError) as info:
        PersonKeySecrets.load(secret_file(tmp_path, f"1:{'aa' * 32}\n2:{'bb' * 31}zz\n"))
    assert "aa" * 32 not in str(info.value)


def test_service_validates_numbers_and_answers_every_version(tmp_path: Path) -> None:
    s = PersonKeySecrets.parse(f"1:{'aa' * 32}\n2:{'bb' * 32}\n")
    svc = PersonKeyService(s)
    out = svc.compute(
        [KeyRequest(VALID.lower(), "张三"), KeyRequest("110105194912310020")], all_versions=True
    )
    assert out[0]["ok"] and [k["key_version"] for k in out[0]["keys"]] == [2, 1]
    assert out[0]["keys"][1]["person_key"] == person_key(bytes.fromhex("aa" * 32), VALID)
    assert out[0]["masked"] == "110105********002X" and "name_key" in out[0]["keys"][0]
    assert out[1] == {
        "index": 1,
        "ok": False,
        "masked": "110105********0020",
        "error": {"code": "check_char", "message": "check character: expected X, got 0"},
    }
    mismatch = svc.compute([KeyRequest(VALID, "张三", "1950-01-01")])[0]
    assert mismatch["error"]["code"] == "birth_date" and VALID not in str(mismatch)


def test_blob_store_writes_whole_files_checks_hashes_and_bounds_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", max_bytes=1000)
    data = b"ciphertext" * 10
    h = store.write(data, upload={"org_id": "cn.p1"})
    assert store.path(h) == tmp_path / "blobs" / h[:2] / h[2:4] / h
    assert store.read(h) == data and store.meta(h) is not None
    assert store.write(data, h, {"org_id": "cn.p2"}) == h
    meta = store.meta(h)
    assert meta is not None and meta.orgs() == {"cn.p1", "cn.p2"}
    with pytest.raises(ValueError, match="hash"):
        store.write(b"other", h)
    with pytest.raises(ValueError, match="limit"):
        store.write(b"x" * 1001)
    store.path(h).write_bytes(data[:-1] + b"!")
    with pytest.raises(BlobCorruptError):
        store.read(h)
    assert not store.has(h) and list(store.path(h).parent.glob(f"{h}.corrupt-*"))
    # a restarted store finds its blobs and drops half-written uploads
    h2 = store.write(b"kept")
    (tmp_path / "blobs" / "tmp" / "half").write_bytes(b"x")
    again = BlobStore(tmp_path / "blobs", max_bytes=1000)
    assert again.read(h2) == b"kept" and not (tmp_path / "blobs" / "tmp" / "half").exists()
    assert hashlib.sha256(b"kept").hexdigest() == h2

"""Property: whatever is appended verifies, and any one tampering of the stored trail is caught at the right record."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magistrate.broker import CallContext, Checkpoint, Decision, DecisionRecord, ToolCall, Trail, TrailVerificationError
from magistrate.broker._merkle import leaf_hash
from magistrate.broker._storage import open_store
from magistrate.broker._trail_verify import verify_trail

commands = st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=12)
tampering = st.sampled_from(["edit", "edit_and_rehash", "delete", "swap", "truncate"])


def build(root: Path, texts: list[str]) -> tuple[Trail, Checkpoint | None]:
    async def fill() -> tuple[Trail, Checkpoint | None]:
        trail = Trail.open(root / "t.sqlite3", key_path=root / "k" / "trail.key")
        try:
            with anyio.fail_after(30):
                for i, text in enumerate(texts):
                    call = ToolCall("Bash", {"command": text, "i": i}, tool_use_id=f"tu{i}")
                    await trail.append(DecisionRecord.of(call, CallContext(), Decision("allow", call.tool_input)))
            assert trail.witness is not None
            return trail, trail.witness.read(trail.log_id)
        except BaseException:
            trail.close()
            raise

    return anyio.run(fill)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands, tampering, st.data())
def test_one_tampering_is_always_caught_at_the_first_changed_record(
    texts: list[str], attack: str, data: st.DataObject
) -> None:
    n = len(texts)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        trail, witness = build(root, texts)
        try:
            public = trail.public_key
            assert verify_trail(trail.store, [public], witness=witness, full=True).size == n
        finally:
            trail.close()
        i = data.draw(st.integers(0, n - 1), label="record")
        # Closed on every way out: a draw below may end the example with hypothesis's own exception.
        with closing(sqlite3.connect(root / "t.sqlite3", isolation_level=None)) as db:
            body = bytes(db.execute("SELECT body FROM trail_records WHERE seq = ?", (i,)).fetchone()[0])
            first_bad = i
            if attack in ("edit", "edit_and_rehash"):
                changed = body.replace(b'"allow"', b'"deny"')
                new_leaf = leaf_hash(changed) if attack == "edit_and_rehash" else None
                db.execute(
                    "UPDATE trail_records SET body = ?, leaf = coalesce(?, leaf) WHERE seq = ?", (changed, new_leaf, i)
                )
            elif attack == "delete":
                db.execute("DELETE FROM trail_records WHERE seq = ?", (i,))
            elif attack == "swap":
                j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i) if n > 1 else st.just(i), label="other")
                other = bytes(db.execute("SELECT body FROM trail_records WHERE seq = ?", (j,)).fetchone()[0])
                for seq, b in ((i, other), (j, body)):
                    db.execute("UPDATE trail_records SET body = ?, leaf = ? WHERE seq = ?", (b, leaf_hash(b), seq))
                first_bad = min(i, j) if other != body else -1
            else:  # truncate: the tail and its checkpoints, the head put back
                db.execute("DELETE FROM trail_records WHERE seq >= ?", (i,))
                db.execute("DELETE FROM trail_checkpoints WHERE tree_size > ?", (i,))
        store = open_store(root / "t.sqlite3")
        try:
            if first_bad < 0:
                verify_trail(store, [public], witness=witness)
                return
            with pytest.raises(TrailVerificationError) as info:
                verify_trail(store, [public], witness=witness)
            assert info.value.seq == first_bad, str(info.value)
        finally:
            store.close()

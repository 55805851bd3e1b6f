"""Record the protocol fixtures: the encoded bytes of the scenario's messages and of a node's
replies to them, and a login reply, under ``tests/protocol/fixtures/<major>.<minor>/``.

Run it from the repository root when a protocol version is released (never to "fix" a failing
replay test: the fixtures are what clients of that version send and expect)::

    PYTHONPATH=src python tests/protocol/record.py

It launches a throwaway domain on loopback, plays the scenario of ``protocol_support.py`` as a
scientist and writes ``NN-kind.msg`` (the message, placeholders and all), ``NN-kind.reply``
(what the node answered), ``login.reply.json`` (the token redacted) and ``manifest.json``.
Encoding is unseen's serde (msgpack), never pickle.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import protocol_support as ps  # noqa: E402

import unseen  # noqa: E402
from unseen.messages import (  # noqa: E402
    PROTOCOL_VERSION,
    decode_message,
    encode_message,
    encode_reply,
)


def record(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        unseen.launch_domain(
            name="May Clinic",
            port=0,
            data_dir=Path(tmp) / "data",
            owner_email=ps.OWNER_EMAIL,
            owner_password=ps.OWNER_PASSWORD,
        ) as node,
    ):
        staged = ps.stage(node.url)
        ids = {ps.ASSET: staged.asset_id}
        steps = []
        try:
            for stem, message in ps.scenario():
                data = bytes(encode_message(message))
                (out / f"{stem}.msg").write_bytes(data)
                sent = decode_message(data)
                sent.body = ps.substitute(sent.body, ids)
                reply = staged.scientist.send_parts(sent.kind, [bytes(encode_message(sent))])
                (out / f"{stem}.reply").write_bytes(bytes(encode_reply(reply)))
                body = reply.unwrap()
                if stem.endswith("request.create"):
                    ids[ps.REQUEST] = body["id"]
                    staged.owner.call("request.decide", {"id": body["id"], "action": "accept"})
                steps.append({"stem": stem, "kind": message.kind})
        finally:
            staged.close()
        login = dict(staged.login_reply, token="redacted")
        (out / "login.reply.json").write_text(json.dumps(login, indent=2, sort_keys=True) + "\n")
    manifest = {
        "protocol": list(PROTOCOL_VERSION),
        "unseen": unseen.__version__,
        "steps": steps,
        "placeholders": ps.PLACEHOLDERS,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    version = ".".join(map(str, PROTOCOL_VERSION))
    record(HERE / "fixtures" / version)
    print(f"wrote {HERE / 'fixtures' / version}")

"""pytezos 3.20 driving a `soru sandbox`: the two rollup operations pytezos has.

    python rollup.py URL L1_DIR send HEX...                       smart_rollup_add_messages
    python rollup.py URL L1_DIR execute SR1 COMMITMENT PROOF_HEX  smart_rollup_execute_outbox_message

The source is bootstrap3 of L1_DIR/wallet.json (the Taquito scripts use bootstrap1, the node's
operator bootstrap2), revealed first when it is not. Prints one JSON line: {"level": N, "hash":
"o..."} once the operation is in a block, or {"error": "..."} with pytezos's error.
"""

import json
import sys

from pytezos import pytezos


def main():
    url, l1_dir, command, *args = sys.argv[1:]
    with open(f"{l1_dir}/wallet.json") as f:
        wallet = json.load(f)
    client = pytezos.using(shell=url, key=wallet[2]["secret_key"])
    try:
        if client.shell.contracts[client.key.public_key_hash()].manager_key() is None:
            client.reveal().autofill().sign().inject(min_confirmations=1)
        if command == "send":
            op = client.smart_rollup_add_messages([bytes.fromhex(m) for m in args])
        elif command == "execute":
            rollup, commitment, proof = args
            op = client.smart_rollup_execute_outbox_message(rollup, commitment, bytes.fromhex(proof))
        else:
            raise SystemExit(f"unknown command {command}")
        result = op.autofill().sign().inject(min_confirmations=1)
        op_hash = result["hash"]
        head = int(client.shell.head.header()["level"])
        level = next(
            level
            for level in range(head, 0, -1)
            if any(op_hash in hashes for hashes in client.shell.blocks[level].operation_hashes())
        )
        print(json.dumps({"level": level, "hash": op_hash}))
    except Exception as e:  # the calling test judges the error
        print(json.dumps({"error": str(e)}))


if __name__ == "__main__":
    main()

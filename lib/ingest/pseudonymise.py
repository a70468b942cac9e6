"""Keyed pseudonyms for user ids: HMAC-SHA256 computed with Spark built-ins (no Python UDF).

    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))

with K' the secret padded with zeros to SHA-256's 64-byte block (hashed first if longer). The two
padded keys enter the plan as columns of a one-row broadcast frame, not as literals: Spark prints
literals in query plans (Spark UI, event logs, `explain`), and a padded key reveals the secret.
The secret comes from an environment variable or a secret file named in config - never from the
config file itself - and is never logged.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

BLOCK_SIZE = 64
IPAD, OPAD = "_hmac_ipad", "_hmac_opad"


class SecretError(ValueError):
    """No usable secret; the message names where it was looked for, never its value."""


def load_secret(env_var: str, secret_file: str, environ: dict[str, str] | None = None) -> bytes:
    """The secret from `secret_file` if one is configured, else from the environment variable `env_var`."""
    environ = os.environ if environ is None else environ
    if secret_file:
        path = Path(secret_file).expanduser()
        if not path.is_file():
            raise SecretError(f"secret file {path} (secret_file in config) does not exist")
        secret = path.read_bytes().strip()
        if not secret:
            raise SecretError(f"secret file {path} is empty")
        return secret
    value = environ.get(env_var, "") if env_var else ""
    if not value.strip():
        raise SecretError(
            f"no pseudonymisation secret: set the environment variable {env_var or '(secret_env is empty)'} "
            "or name a secret_file in config; or set pseudonymize = false to write user ids in clear"
        )
    return value.strip().encode("utf-8")


def padded_keys(secret: bytes) -> tuple[bytes, bytes]:
    key = hashlib.sha256(secret).digest() if len(secret) > BLOCK_SIZE else secret
    key = key.ljust(BLOCK_SIZE, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def key_frame(spark: SparkSession, secret: bytes) -> DataFrame:
    ipad, opad = padded_keys(secret)
    schema = T.StructType([T.StructField(IPAD, T.BinaryType(), False), T.StructField(OPAD, T.BinaryType(), False)])
    return spark.createDataFrame([(bytearray(ipad), bytearray(opad))], schema)


def hmac_sha256(message: Column, ipad: Column, opad: Column) -> Column:
    """Hex HMAC-SHA256 of the UTF-8 bytes of `message` (null stays null)."""
    inner = F.unhex(F.sha2(F.concat(ipad, message.cast("binary")), 256))
    return F.sha2(F.concat(opad, inner), 256)


def with_pseudonym(frame: DataFrame, keys: DataFrame | None, column: str = "user_id") -> DataFrame:
    """Replace `column` by its keyed pseudonym; `keys=None` (pseudonymize = false) leaves it as it is."""
    if keys is None:
        return frame
    joined = frame.crossJoin(F.broadcast(keys))
    return joined.withColumn(column, hmac_sha256(F.col(column), F.col(IPAD), F.col(OPAD))).drop(IPAD, OPAD)

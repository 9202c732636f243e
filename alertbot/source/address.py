"""dYdX addresses (BIP-173 bech32, HRP `dydx`) and subaccount ids, checked before connecting."""

from __future__ import annotations

from dataclasses import dataclass

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
HRP = "dydx"
MAX_SUBACCOUNT = 127_999  # the WebSocket accepts 0..127999 on v4_subaccounts
MAX_PARENT_SUBACCOUNT = 127  # parents are 0..127 on v4_parent_subaccounts


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(_GEN):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits_8(data: list[int]) -> list[int] | None:
    """5-bit groups to bytes; None when the padding is not zero (a corrupted address)."""
    acc = bits = 0
    out: list[int] = []
    for value in data:
        acc = (acc << 5) | value
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return None
    return out


def bech32_encode(hrp: str, payload: bytes) -> str:
    """Encode bytes as a bech32 address (used to mint valid test and simulator addresses)."""
    acc = bits = 0
    data: list[int] = []
    for byte in payload:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    poly = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def address_problem(address: str) -> str | None:
    """Why `address` is not a valid dYdX account address, or None when it is."""
    if not isinstance(address, str) or not address:
        return "address is empty"
    if address.lower() != address and address.upper() != address:
        return "address mixes upper and lower case"
    addr = address.lower()
    if len(addr) > 90:
        return "address is longer than 90 characters"
    if not addr.startswith(HRP + "1"):
        return f"address must start with '{HRP}1' (a dYdX account), got {addr[:8]!r}"
    data_part = addr[len(HRP) + 1 :]
    bad = sorted({c for c in data_part if c not in _CHARSET_INDEX})
    if bad:
        return f"address contains characters not allowed in bech32: {''.join(bad)!r}"
    if len(data_part) < 6:
        return "address is too short"
    data = [_CHARSET_INDEX[c] for c in data_part]
    if _polymod(_hrp_expand(HRP) + data) != 1:
        return "address checksum is wrong (a typo, or a truncated copy)"
    payload = _convertbits_8(data[:-6])
    if payload is None:
        return "address has invalid padding"
    if len(payload) not in (20, 32):
        return f"address payload is {len(payload)} bytes; dYdX accounts have 20 (or 32)"
    return None


@dataclass(frozen=True, slots=True, order=True)
class SubaccountRef:
    """A watched subaccount (or parent subaccount): the Indexer id is `address/number`."""

    address: str
    number: int

    @property
    def id(self) -> str:
        """The subscription id the Indexer expects."""
        return f"{self.address}/{self.number}"

    def __str__(self) -> str:
        return self.id


def parse_subaccount(text: str, *, parent: bool = False) -> SubaccountRef:
    """Parse `dydx1.../N`, raising ValueError with a message that names the bad part."""
    if not isinstance(text, str):
        raise ValueError(f"expected 'dydx1.../N', got {type(text).__name__}")
    address, sep, number = text.strip().rpartition("/")
    if not sep:
        address, number = text.strip(), "0"
        if not address.startswith(HRP):
            raise ValueError(f"expected 'dydx1.../N', got {text!r}")
    problem = address_problem(address)
    if problem:
        raise ValueError(f"{problem}: {address!r}")
    if not number.isdigit():
        raise ValueError(f"subaccount number must be a whole number, got {number!r}")
    n = int(number)
    limit = MAX_PARENT_SUBACCOUNT if parent else MAX_SUBACCOUNT
    if n > limit:
        kind = "parent subaccount" if parent else "subaccount"
        raise ValueError(f"{kind} number must be 0..{limit}, got {n}")
    return SubaccountRef(address.lower(), n)

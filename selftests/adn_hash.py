# hash() of the adn language in Python, as bpf/adn_hash.h defines it (for
# the kernel tests of routing elements: which replica a value must reach).
#   adn_hash(("char", b"alice", 16), ("int", 7))  ==  hash(user, 7) with user CHAR(16)
M = (1 << 64) - 1
SEED = 0x9E3779B97F4A7C15


def mix(h, v):
    h ^= v & M
    h = (h * 0xFF51AFD7ED558CCD) & M
    return h ^ (h >> 32)


def fin(h):
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M
    return h ^ (h >> 31)


def adn_hash(*args):
    """args: ("char", bytes_or_str, n) for a CHAR(n), ("int", v) for a number."""
    h = SEED
    for a in args:
        if a[0] == "int":
            h = mix(h, a[1])
            continue
        b = a[1].encode() if isinstance(a[1], str) else a[1]
        b = b[: a[2]].ljust(a[2], b"\0")
        i = 0
        for size in (8, 4, 2, 1):
            while len(b) - i >= size:
                h = mix(h, int.from_bytes(b[i : i + size], "little"))
                i += size
    return fin(h)

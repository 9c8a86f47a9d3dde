/* SPDX-License-Identifier: MIT */
/* A ready user-defined element: authenticated encryption (adn_udf_aead),
 * AES-256-GCM or ChaCha20-Poly1305 through OpenSSL's EVP interface. In its
 * own object file, so programs that do not use it need no -lcrypto.
 *
 * An encoded message is nonce || ciphertext || tag: a 12-byte nonce drawn
 * from the CSPRNG for every message (RAND_bytes; with random 96-bit nonces
 * a key should encrypt well under 2^32 messages), the ciphertext (as long
 * as the plaintext) and the 16-byte tag. A fixed associated-data string
 * binds the message to this format and cipher. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "adn_rpc.h"

static const unsigned char aad_gcm[] = "adn-aead-v1 aes-256-gcm";
static const unsigned char aad_chacha[] = "adn-aead-v1 chacha20-poly1305";

static const EVP_CIPHER *aead_cipher(const struct adn_aead_key *k, const unsigned char **aad,
				     int *aad_len)
{
	if (k->cipher == ADN_AEAD_CHACHA20_POLY1305) {
		*aad = aad_chacha;
		*aad_len = (int)sizeof(aad_chacha) - 1;
		return EVP_chacha20_poly1305();
	}
	*aad = aad_gcm;
	*aad_len = (int)sizeof(aad_gcm) - 1;
	return EVP_aes_256_gcm();
}

/* GCM and ChaCha20-Poly1305 share the control codes (EVP_CTRL_AEAD_*). */
static long aead_encode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	const struct adn_aead_key *k = ctx;
	unsigned char *o = out;
	const unsigned char *aad;
	int aad_len, len, fin;
	long ret = -1;

	if (!k || n > (size_t)INT_MAX - ADN_AEAD_OVERHEAD || cap < n + ADN_AEAD_OVERHEAD)
		return -1;
	const EVP_CIPHER *cipher = aead_cipher(k, &aad, &aad_len);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	if (RAND_bytes(o, ADN_AEAD_NONCE_LEN) != 1 ||
	    EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, ADN_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, k->key, o) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, aad, aad_len) != 1)
		goto out;
	len = 0;
	if (n && EVP_EncryptUpdate(c, o + ADN_AEAD_NONCE_LEN, &len, in, (int)n) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(c, o + ADN_AEAD_NONCE_LEN + len, &fin) != 1 ||
	    (size_t)(len + fin) != n ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, ADN_AEAD_TAG_LEN,
				o + ADN_AEAD_NONCE_LEN + n) != 1)
		goto out;
	ret = (long)(n + ADN_AEAD_OVERHEAD);
out:
	EVP_CIPHER_CTX_free(c);
	return ret;
}

static long aead_decode(void *ctx, const void *in, size_t n, void *out, size_t cap)
{
	const struct adn_aead_key *k = ctx;
	const unsigned char *i = in;
	const unsigned char *aad;
	int aad_len, len, fin;
	long ret = -1;

	if (!k || n < ADN_AEAD_OVERHEAD || n > (size_t)INT_MAX || cap < n - ADN_AEAD_OVERHEAD)
		return -1;
	size_t m = n - ADN_AEAD_OVERHEAD;
	const EVP_CIPHER *cipher = aead_cipher(k, &aad, &aad_len);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char tag[ADN_AEAD_TAG_LEN];
	if (!c)
		return -1;
	memcpy(tag, i + ADN_AEAD_NONCE_LEN + m, sizeof(tag));
	if (EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, ADN_AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, k->key, i) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, aad, aad_len) != 1)
		goto out;
	len = 0;
	if (m && EVP_DecryptUpdate(c, out, &len, i + ADN_AEAD_NONCE_LEN, (int)m) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, ADN_AEAD_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, (unsigned char *)out + len, &fin) != 1 || /* tag check */
	    (size_t)(len + fin) != m)
		goto out;
	ret = (long)m;
out:
	if (ret < 0 && cap)
		memset(out, 0, m < cap ? m : cap); /* no unauthenticated plaintext left behind */
	EVP_CIPHER_CTX_free(c);
	return ret;
}

struct adn_udf_ops adn_udf_aead(const struct adn_aead_key *k)
{
	return (struct adn_udf_ops){ .encode = aead_encode, .decode = aead_decode,
				     .ctx = (void *)k };
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int adn_aead_key_load(struct adn_aead_key *k, enum adn_aead_cipher cipher, const char *path,
		      char *err, size_t errlen)
{
	unsigned char buf[2 * ADN_AEAD_KEY_LEN + 3];
	struct stat st;
	ssize_t n;
	int fd;

	if (!k || !path || (cipher != ADN_AEAD_AES_256_GCM && cipher != ADN_AEAD_CHACHA20_POLY1305)) {
		snprintf(err, errlen, "aead: invalid arguments");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "aead: cannot open key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "aead: key file %s must be a regular file readable by its owner only (chmod 600)",
			 path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "aead: cannot read key file %s: %s", path, strerror(errno));
		return -1;
	}
	k->cipher = cipher;
	if (n == ADN_AEAD_KEY_LEN) {
		memcpy(k->key, buf, ADN_AEAD_KEY_LEN);
		memset(buf, 0, sizeof(buf));
		return 0;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 2 * ADN_AEAD_KEY_LEN) {
		int ok = 1;
		for (int i = 0; i < ADN_AEAD_KEY_LEN; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
			if (hi < 0 || lo < 0)
				ok = 0;
			k->key[i] = (uint8_t)(ok ? hi << 4 | lo : 0);
		}
		memset(buf, 0, sizeof(buf));
		if (ok)
			return 0;
	}
	memset(k->key, 0, sizeof(k->key));
	snprintf(err, errlen, "aead: key file %s: want %d raw bytes or %d hex digits", path,
		 ADN_AEAD_KEY_LEN, 2 * ADN_AEAD_KEY_LEN);
	return -1;
}

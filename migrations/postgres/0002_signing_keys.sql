-- Signing keys shared by every node when a key-encryption key is configured: the PKCS#8
-- private key sealed with AES-256-GCM (base64url of nonce || ciphertext || tag; the kid is the
-- associated data, so a row cannot be moved to another kid).
create table signing_keys (
  kid text primary key,
  created_at bigint not null,
  sealed_key text not null
);

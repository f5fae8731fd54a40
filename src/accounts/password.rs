//! Human passwords: the policy R-REG-2, used by every path that sets a password, and
//! argon2id hashing (OWASP minimum m=19 MiB, t=2, p=1) in a bounded pool of its own threads
//! (R-SEC-1), never on the async workers and never more at once than the machine has cores.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::secret::Secret;

/// Which rule of R-REG-2 a password breaks; the page explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Fewer than 8 characters.
    #[error("shorter than 8 characters")]
    TooShort,
    /// More than 40 characters.
    #[error("longer than 40 characters")]
    TooLong,
    /// Contains a space, tab or other whitespace.
    #[error("contains whitespace")]
    Whitespace,
    /// Contains `<` or `>`.
    #[error("contains < or >")]
    AngleBracket,
    /// Contains a control character.
    #[error("contains a control character")]
    Control,
    /// Fewer than two of: upper and lower case letters, digits, special characters.
    #[error("needs two of: upper and lower case letters, digits, special characters")]
    TooFewClasses,
}

impl PolicyViolation {
    /// The message-catalog key explaining this violation.
    pub fn message_key(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "password_too_short",
            PolicyViolation::TooLong => "password_too_long",
            PolicyViolation::Whitespace => "password_whitespace",
            PolicyViolation::AngleBracket => "password_angle_bracket",
            PolicyViolation::Control => "password_control",
            PolicyViolation::TooFewClasses => "password_classes",
        }
    }
}

fn is_upper(c: char) -> bool {
    c.is_ascii_uppercase() || matches!(c, 'Ä' | 'Ö' | 'Ü' | 'ẞ')
}

fn is_lower(c: char) -> bool {
    c.is_ascii_lowercase() || matches!(c, 'ä' | 'ö' | 'ü' | 'ß')
}

/// R-REG-2: 8–40 characters, no whitespace, no `<` or `>`, and at least two of three classes:
/// (1) upper and lower case letters, (2) digits, (3) special characters.
pub fn check_policy(password: &str) -> Result<(), PolicyViolation> {
    let len = password.chars().count();
    if len < 8 {
        return Err(PolicyViolation::TooShort);
    }
    if len > 40 {
        return Err(PolicyViolation::TooLong);
    }
    if password.chars().any(char::is_whitespace) {
        return Err(PolicyViolation::Whitespace);
    }
    if password.contains(['<', '>']) {
        return Err(PolicyViolation::AngleBracket);
    }
    if password.chars().any(char::is_control) {
        return Err(PolicyViolation::Control);
    }
    let letters = password.chars().any(is_upper) && password.chars().any(is_lower);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    let special = password.chars().any(|c| !is_upper(c) && !is_lower(c) && !c.is_ascii_digit());
    if [letters, digits, special].iter().filter(|x| **x).count() < 2 {
        return Err(PolicyViolation::TooFewClasses);
    }
    Ok(())
}

/// OWASP's argon2id minimum: 19 MiB, two passes, one lane.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Length of a new hash's output.
const OUTPUT_LEN: usize = 32;
/// The most memory a stored hash may ask for; a larger one is refused, not allocated.
const MAX_M_COST_KIB: u32 = 64 * 1024;
/// What one hash costs on a core here, roughly; only for the `Retry-After` estimate.
const NOMINAL_HASH_MS: u64 = 40;

/// A valid hash of a random password, verified when the account does not exist so that
/// both paths cost the same.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VydmljZWtvbnRvZHVtbXk$7Ot3x/8JQoWdl2SiqAPBhc6dpVnWkxWkk4Gqzl0g8G0";

/// Every computation is taken: the caller answers 503 with `Retry-After` (R-SEC-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is at capacity; retry after {retry_after} s")]
pub struct Busy {
    /// Seconds until the queue has most likely drained.
    pub retry_after: u64,
}

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The pool and its queue are full.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// An internal failure (a worker gone, parameters argon2 refuses); never the user's fault.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The work a worker does, with the password and (for a check) the stored PHC string.
enum Work {
    Hash(Secret<String>),
    Verify(Secret<String>, String),
}

enum Outcome {
    Hashed(Result<Secret<String>, String>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Outcome>,
    /// Held until the work is done, so the admitted count covers running and waiting jobs.
    _admitted: OwnedSemaphorePermit,
}

/// The bounded password-hashing pool (R-SEC-1): a fixed set of worker threads, one per core by
/// default, each owning its argon2 memory and reusing it for every computation, in front of
/// them a queue of bounded length. A computation that finds the pool and the queue full is
/// refused at once ([`Busy`]) instead of waiting without bound: a crowd of logins costs
/// `workers` × 19 MiB and the cores, never memory per request.
#[derive(Clone)]
pub struct Hasher {
    pool: Arc<Pool>,
    admitted: Arc<Semaphore>,
    busy: Busy,
}

/// A place in the pool, taken before anything is counted (a throttled login counts the attempt
/// only once it is sure to be checked); spent by one hash or check.
pub struct Slot {
    pool: Arc<Pool>,
    permit: OwnedSemaphorePermit,
}

/// The workers' side: held by every [`Hasher`] and [`Slot`]; when the last goes, the workers
/// stop.
struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Idle workers, the one idle the shortest on top: it gets the next job, so under light
    /// load one worker does the work with its memory still in the caches.
    idle: Vec<Thread>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker never panics while holding the lock; if one did, the queue is still whole.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Pool {
    fn submit(&self, job: Job) {
        let mut q = self.shared.lock();
        q.jobs.push_back(job);
        let worker = q.idle.pop();
        drop(q);
        if let Some(w) = worker {
            w.unpark();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.closed = true;
        let idle = std::mem::take(&mut q.idle);
        drop(q);
        idle.iter().for_each(Thread::unpark);
    }
}

impl Hasher {
    /// The pool the configuration asks for.
    pub fn from_config(config: &crate::config::HashingConfig) -> Hasher {
        Hasher::new(config.resolved_workers(), config.resolved_queue())
    }

    /// A pool of `workers` threads (at least one) with room for `queue` waiting computations.
    pub fn new(workers: usize, queue: usize) -> Hasher {
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
        });
        for i in 0..workers {
            let shared = shared.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || work(&shared));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing worker");
            }
        }
        let admitted = workers + queue;
        let drain_ms = NOMINAL_HASH_MS * admitted as u64 / workers as u64;
        Hasher {
            pool: Arc::new(Pool { shared }),
            admitted: Arc::new(Semaphore::new(admitted)),
            busy: Busy {
                retry_after: drain_ms.div_ceil(1000).max(1),
            },
        }
    }

    /// Takes a place in the pool, or says it is full.
    pub fn reserve(&self) -> Result<Slot, Busy> {
        match self.admitted.clone().try_acquire_owned() {
            Ok(permit) => Ok(Slot {
                pool: self.pool.clone(),
                permit,
            }),
            Err(_) => Err(self.busy),
        }
    }

    /// Hashes a password with argon2id and a random salt.
    pub async fn hash(&self, password: Secret<String>) -> Result<Secret<String>, HashError> {
        self.reserve()?.hash(password).await
    }

    /// Verifies `password` against `stored` (or a dummy hash when there is no account, so both
    /// cost the same); `false` for no account.
    pub async fn verify(&self, password: Secret<String>, stored: Option<Secret<String>>) -> Result<bool, HashError> {
        self.reserve()?.verify(password, stored).await
    }
}

impl Slot {
    async fn run(self, work: Work) -> Result<Outcome, HashError> {
        let (reply, answer) = oneshot::channel();
        self.pool.submit(Job {
            work,
            reply,
            _admitted: self.permit,
        });
        answer
            .await
            .map_err(|_| HashError::Failed("a password-hashing worker stopped".into()))
    }

    /// Hashes a password with argon2id and a random salt.
    pub async fn hash(self, password: Secret<String>) -> Result<Secret<String>, HashError> {
        match self.run(Work::Hash(password)).await? {
            Outcome::Hashed(r) => r.map_err(HashError::Failed),
            Outcome::Verified(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is none.
    pub async fn verify(self, password: Secret<String>, stored: Option<Secret<String>>) -> Result<bool, HashError> {
        let exists = stored.is_some();
        let stored = stored.map(|s| s.expose().clone()).unwrap_or_else(|| DUMMY_HASH.to_string());
        match self.run(Work::Verify(password, stored)).await? {
            Outcome::Verified(ok) => Ok(ok && exists),
            Outcome::Hashed(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }
}

/// The next job, parking while there is none; `None` once the pool is gone.
fn next_job(shared: &Shared) -> Option<Job> {
    let me = std::thread::current();
    let mut q = shared.lock();
    loop {
        if let Some(job) = q.jobs.pop_front() {
            return Some(job);
        }
        if q.closed {
            return None;
        }
        q.idle.push(me.clone());
        drop(q);
        std::thread::park();
        q = shared.lock();
        // Woken by a submit (which took us off the stack) or spuriously (still on it).
        q.idle.retain(|t| t.id() != me.id());
    }
}

/// One worker: takes jobs until the pool is gone, always with the same memory.
fn work(shared: &Shared) {
    let mut memory = Memory::default();
    while let Some(Job { work, reply, _admitted }) = next_job(shared) {
        if reply.is_closed() {
            // The request was abandoned while it waited: its work would go nowhere.
            continue;
        }
        let outcome = match work {
            Work::Hash(password) => Outcome::Hashed(memory.hash(&password)),
            Work::Verify(password, stored) => Outcome::Verified(memory.verify(&password, &stored)),
        };
        // The place is free before the caller hears back, so its next computation finds it.
        drop(_admitted);
        let _ = reply.send(outcome);
    }
}

/// A worker's argon2 memory, allocated on first use and kept: no allocation, page faults or
/// zeroing of 19 MiB per login.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    fn blocks(&mut self, params: &Params) -> Result<&mut [Block], String> {
        if params.m_cost() > MAX_M_COST_KIB {
            return Err(format!("memory cost {} KiB is above the limit", params.m_cost()));
        }
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        Ok(&mut self.blocks[..needed])
    }

    fn compute(&mut self, params: Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), String> {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let blocks = self.blocks(&params)?;
        argon2
            .hash_password_into_with_memory(password, salt, out, blocks)
            .map_err(|e| e.to_string())
    }

    fn hash(&mut self, password: &Secret<String>) -> Result<Secret<String>, String> {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| e.to_string())?;
        let salt = SaltString::encode_b64(&crate::secret::random_bytes(16)).map_err(|e| e.to_string())?;
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
        let mut out = [0u8; OUTPUT_LEN];
        self.compute(params.clone(), password.expose().as_bytes(), salt_bytes, &mut out)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(Secret::new(phc.to_string()))
    }

    fn verify(&mut self, password: &Secret<String>, stored: &str) -> bool {
        let checked = (|| {
            let phc = PasswordHash::new(stored).map_err(|e| e.to_string())?;
            if phc.algorithm != Algorithm::Argon2id.ident() || phc.version != Some(Version::V0x13.into()) {
                return Err("not an argon2id v1.3 hash".to_string());
            }
            let expected = phc.hash.ok_or("no hash output")?;
            let p = Params::try_from(&phc).map_err(|e| e.to_string())?;
            let params = Params::new(p.m_cost(), p.t_cost(), p.p_cost(), Some(expected.len())).map_err(|e| e.to_string())?;
            let mut salt = [0u8; 64];
            let salt = phc.salt.ok_or("no salt")?.decode_b64(&mut salt).map_err(|e| e.to_string())?;
            let mut out = vec![0u8; expected.len()];
            self.compute(params, password.expose().as_bytes(), salt, &mut out)?;
            Ok(crate::secret::constant_time_eq(&out, expected.as_bytes()))
        })();
        checked.unwrap_or_else(|e: String| {
            tracing::error!(error = %e, "a stored password hash could not be checked");
            false
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_reg_2_password_policy_examples_and_near_misses() {
        for ok in [
            "ABab1234",
            "Aa12Bb34",
            "ABab§$%?",
            "A§B$a%b?",
            "7890?!+-",
            "7?8!9+0-",
            "ÄÖÜäöü12",
            "Straße99",
            "1234567890123456789012345678901234567aA1",
        ] {
            assert_eq!(check_policy(ok), Ok(()), "{ok} should pass");
        }
        for (bad, why) in [
            ("ABab123", PolicyViolation::TooShort),
            ("ABab12345678901234567890123456789012345678", PolicyViolation::TooLong),
            ("ABab 1234", PolicyViolation::Whitespace),
            ("ABab1234\t", PolicyViolation::Whitespace),
            ("ABab<1234", PolicyViolation::AngleBracket),
            ("ABab>1234", PolicyViolation::AngleBracket),
            ("abcdefgh", PolicyViolation::TooFewClasses),
            ("ABCDEFGH", PolicyViolation::TooFewClasses),
            ("12345678", PolicyViolation::TooFewClasses),
            ("§$%&/()=", PolicyViolation::TooFewClasses),
            ("ABCDEFG1", PolicyViolation::TooFewClasses),
            ("abcdefg1", PolicyViolation::TooFewClasses),
            ("ÄÖÜabcde", PolicyViolation::TooFewClasses),
            ("ÄÖÜABCD1", PolicyViolation::TooFewClasses),
        ] {
            assert_eq!(check_policy(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn r_reg_2_forty_characters_is_the_limit() {
        let forty = format!("Aa1{}", "x".repeat(37));
        assert_eq!(forty.chars().count(), 40);
        assert_eq!(check_policy(&forty), Ok(()));
        assert_eq!(check_policy(&format!("{forty}y")), Err(PolicyViolation::TooLong));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_a_full_verification() {
        let h = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(h.algorithm.as_str(), "argon2id");
    }

    #[tokio::test]
    async fn r_reg_2_hashes_are_argon2id_and_verify() {
        let pool = Hasher::new(1, 0);
        let h = pool.hash(Secret::new("ABab1234".into())).await.unwrap();
        assert!(h.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(pool.verify(Secret::new("ABab1234".into()), Some(h.clone())).await.unwrap());
        assert!(!pool.verify(Secret::new("ABab1235".into()), Some(h)).await.unwrap());
        assert!(!pool.verify(Secret::new("anything".into()), None).await.unwrap());
        assert!(
            !pool
                .verify(Secret::new("anything".into()), Some(Secret::new("not a hash".into())))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_pool_s_hashes_and_the_argon2_crate_s_verify_each_other() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let pool = Hasher::new(1, 0);
        let ours = pool.hash(Secret::new("ABab1234".into())).await.unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap(),
        );
        let parsed = PasswordHash::new(ours.expose()).unwrap();
        assert!(reference.verify_password(b"ABab1234", &parsed).is_ok());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = reference.hash_password(b"Xy12Xy12", &salt).unwrap().to_string();
        assert!(
            pool.verify(Secret::new("Xy12Xy12".into()), Some(Secret::new(theirs.clone())))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify(Secret::new("Xy12Xy13".into()), Some(Secret::new(theirs)))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn r_sec_1_beyond_the_workers_and_the_queue_the_pool_says_busy_at_once() {
        let pool = Hasher::new(2, 3);
        let held: Vec<Slot> = (0..5).map(|_| pool.reserve().unwrap()).collect();
        let busy = pool.reserve().err().unwrap();
        assert!(busy.retry_after >= 1);
        assert_eq!(pool.hash(Secret::new("ABab1234".into())).await.unwrap_err(), HashError::Busy(busy));
        drop(held);
        assert!(pool.reserve().is_ok());
    }

    #[tokio::test]
    async fn r_sec_1_computations_beyond_the_workers_wait_in_the_queue_and_all_finish() {
        let pool = Hasher::new(2, 10);
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash(Secret::new("ABab1234".to_string())).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert!(pool.reserve().is_ok());
    }

    #[test]
    fn a_worker_reuses_its_memory_for_every_computation() {
        let mut memory = Memory::default();
        let password = Secret::new("ABab1234".to_string());
        let h = memory.hash(&password).unwrap();
        let first = memory.blocks.as_ptr();
        assert_eq!(memory.blocks.len(), M_COST_KIB as usize);
        assert!(memory.verify(&password, h.expose()));
        assert!(!memory.verify(&Secret::new("anything".into()), DUMMY_HASH));
        assert_eq!(memory.blocks.as_ptr(), first);
        assert_eq!(memory.blocks.len(), M_COST_KIB as usize);
    }

    #[test]
    fn a_stored_hash_asking_for_too_much_memory_is_refused_not_allocated() {
        let mut memory = Memory::default();
        let greedy = "$argon2id$v=19$m=1048576,t=2,p=1$c2VydmljZWtvbnRvZHVtbXk$7Ot3x/8JQoWdl2SiqAPBhc6dpVnWkxWkk4Gqzl0g8G0";
        assert!(!memory.verify(&Secret::new("x".into()), greedy));
        assert!(memory.blocks.is_empty());
    }
}

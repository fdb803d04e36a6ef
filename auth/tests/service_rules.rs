//! One test per rule of PROTOCOL.md (and its boundaries), run against both stores.

mod common;

use auth::{AuthError, GrantError, LogoutScope, OtpMode, Protocol, TokenError};
use common::{World, PASSWORD};

const WRONG: &str = "wrong password!";

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::World::memory()).await } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::World::sqlite()).await } )*
        }
    };
}

on_every_store!(
    register_refuses_taken_invalid_and_weak,
    unicode_usernames_are_one_account_per_canonical_form,
    login_issues_a_fresh_session_every_time,
    same_seed_same_clock_same_inputs_same_tokens,
    mfa_required_grants_nothing_until_verified,
    mfa_success_kills_the_challenge,
    mfa_wrong_codes_kill_the_challenge_at_max_attempts,
    mfa_challenge_dies_at_exactly_its_ttl,
    upstream_down_or_garbage_fails_closed_and_counts_nothing,
    refresh_rotates_to_the_next_generation,
    grace_retry_returns_the_current_token_without_advancing,
    grace_window_closes_at_exactly_refresh_grace,
    grace_covers_only_the_previous_generation,
    reuse_revokes_the_whole_session,
    unknown_and_forged_refresh_tokens_change_nothing,
    rotation_keeps_earlier_access_tokens_until_their_ttl,
    access_token_expires_at_exactly_its_ttl,
    idle_timeout_ends_a_session_and_activity_defers_it,
    absolute_timeout_ends_even_an_active_session,
    step_up_window_edge_and_reauthenticate,
    reauthenticate_rotates_nothing_and_wrong_password_is_not_counted,
    logout_local_others_global,
    change_password_rotates_without_grace_and_revokes_the_rest,
    change_password_rejections,
    admin_disable_revokes_and_refuses_until_enabled,
    admin_ops_on_unknown_users,
    lockout_at_exactly_the_threshold,
    locked_account_refuses_the_right_password_and_counts_nothing,
    lock_lapses_at_exactly_locked_until,
    admin_unlock_clears_the_lock,
    lockout_is_per_canonical_account,
    success_resets_the_failure_count,
    correct_password_resets_the_count_even_when_a_later_step_fails,
    unknown_users_leave_no_state,
    a_lock_does_not_end_existing_sessions,
    login_check_order,
    token_check_order_revoked_before_expired,
    revoke_any_token_of_a_session_revokes_it,
    deploys_in_both_directions_log_nobody_out,
    deploys_never_revive_a_revoked_token,
);

async fn register_refuses_taken_invalid_and_weak(w: World) {
    w.user("alice").await;
    let svc = &w.svc;
    assert_eq!(
        svc.register("ALICE", PASSWORD, None).await,
        Err(AuthError::UsernameTaken)
    );
    assert_eq!(
        svc.register("", PASSWORD, None).await,
        Err(AuthError::InvalidUsername)
    );
    assert_eq!(
        svc.register("a b", PASSWORD, None).await,
        Err(AuthError::InvalidUsername)
    );
    assert_eq!(
        svc.register("bob", "1234567", None).await,
        Err(AuthError::WeakPassword)
    );
    assert_eq!(
        svc.register("bob", &"x".repeat(129), None).await,
        Err(AuthError::WeakPassword)
    );
    assert_eq!(
        svc.register("bob", "12345678", None).await,
        Ok("bob".to_owned())
    );
}

async fn unicode_usernames_are_one_account_per_canonical_form(w: World) {
    // NFC at registration, NFD / upper case / full width at login.
    w.user("\u{00C9}milie").await;
    w.login("E\u{0301}milie").await;
    w.login("ÉMILIE").await;
    w.user("ａｌｉｃｅ").await;
    w.login("alice").await;
    for name in ["straße", "محمد", "देवनागरी", "Öztürk"] {
        w.user(name).await;
        w.login(name).await;
    }
    // A Cyrillic look-alike is another account, not Alice.
    assert_eq!(
        w.login_err("аlice", PASSWORD).await,
        AuthError::InvalidCredentials
    );
}

async fn login_issues_a_fresh_session_every_time(w: World) {
    w.user("alice").await;
    let a = w.login("alice").await;
    let b = w.login("alice").await;
    assert_ne!(a.session_id, b.session_id);
    assert_ne!(a.access_token, b.access_token);
    assert_ne!(a.refresh_token, b.refresh_token);
    assert_eq!((a.generation, a.aal), (0, auth::Aal::Aal1));
}

async fn same_seed_same_clock_same_inputs_same_tokens(w: World) {
    let other = World::memory();
    for world in [&w, &other] {
        world.user("alice").await;
    }
    let (a, b) = (w.login("alice").await, other.login("alice").await);
    assert_eq!(a, b);
}

async fn mfa_required_grants_nothing_until_verified(w: World) {
    w.mfa_user("alice").await;
    let challenge = w.challenge("alice").await;
    assert_eq!(
        w.svc.access(&challenge).await,
        Err(AuthError::Unauthorized(TokenError::Unknown))
    );
    assert_eq!(
        w.svc.refresh(&challenge).await,
        Err(AuthError::InvalidGrant(GrantError::Unknown))
    );
    let tokens = w
        .svc
        .verify_mfa(&challenge, &w.code("alice"))
        .await
        .unwrap();
    assert_eq!(tokens.aal, auth::Aal::Aal2);
    assert_eq!(
        w.svc.access(&tokens.access_token).await.unwrap().aal,
        auth::Aal::Aal2
    );
}

async fn mfa_success_kills_the_challenge(w: World) {
    w.mfa_user("alice").await;
    let challenge = w.challenge("alice").await;
    let code = w.code("alice");
    w.svc.verify_mfa(&challenge, &code).await.unwrap();
    assert_eq!(
        w.svc.verify_mfa(&challenge, &code).await,
        Err(AuthError::ChallengeExpired)
    );
}

async fn mfa_wrong_codes_kill_the_challenge_at_max_attempts(w: World) {
    w.mfa_user("alice").await;
    let challenge = w.challenge("alice").await;
    for _ in 0..w.cfg.mfa_max_attempts {
        assert_eq!(
            w.svc.verify_mfa(&challenge, "000000x").await,
            Err(AuthError::InvalidCode)
        );
    }
    let right = w.code("alice");
    assert_eq!(
        w.svc.verify_mfa(&challenge, &right).await,
        Err(AuthError::ChallengeExpired)
    );
    // Wrong codes are not counted against the account's lockout: a login still gets through.
    for _ in 0..w.cfg.lockout_threshold {
        let c = w.challenge("alice").await;
        for _ in 0..w.cfg.mfa_max_attempts {
            let _ = w.svc.verify_mfa(&c, "bad").await;
        }
    }
    w.challenge("alice").await;
}

async fn mfa_challenge_dies_at_exactly_its_ttl(w: World) {
    w.mfa_user("alice").await;
    let early = w.challenge("alice").await;
    let late = w.challenge("alice").await;
    let late_code = w.code("alice");
    w.tick(w.cfg.mfa_challenge_ttl - 1);
    // Still open one second before its TTL:
    assert_eq!(
        w.svc.verify_mfa(&early, "999999x").await,
        Err(AuthError::InvalidCode)
    );
    w.tick(1);
    assert_eq!(
        w.svc.verify_mfa(&late, &late_code).await,
        Err(AuthError::ChallengeExpired)
    );
    assert_eq!(
        w.svc.verify_mfa("mfa_forged", "123456").await,
        Err(AuthError::ChallengeExpired)
    );
}

async fn upstream_down_or_garbage_fails_closed_and_counts_nothing(w: World) {
    w.mfa_user("alice").await;
    for mode in [OtpMode::Down, OtpMode::Garbage] {
        w.otp.set_mode(mode);
        assert_eq!(
            w.svc.login("alice", PASSWORD, "d").await,
            Err(AuthError::UpstreamUnavailable)
        );
    }
    // Nothing counted: four wrong passwords still leave the account open.
    w.otp.set_mode(OtpMode::Up);
    for _ in 0..w.cfg.lockout_threshold - 1 {
        assert_eq!(
            w.login_err("alice", WRONG).await,
            AuthError::InvalidCredentials
        );
    }
    let challenge = w.challenge("alice").await;
    let code = w.code("alice");
    for mode in [OtpMode::Down, OtpMode::Garbage] {
        w.otp.set_mode(mode);
        for _ in 0..w.cfg.mfa_max_attempts + 1 {
            assert_eq!(
                w.svc.verify_mfa(&challenge, &code).await,
                Err(AuthError::UpstreamUnavailable)
            );
        }
    }
    // The challenge is still usable, with no attempt used up.
    w.otp.set_mode(OtpMode::Up);
    assert_eq!(
        w.svc.verify_mfa(&challenge, "wrong").await,
        Err(AuthError::InvalidCode)
    );
    assert!(w.svc.verify_mfa(&challenge, &code).await.is_ok());
}

async fn refresh_rotates_to_the_next_generation(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    let r2 = w.svc.refresh(&r1.refresh_token).await.unwrap();
    assert_eq!((r1.generation, r2.generation), (1, 2));
    assert_eq!(r0.session_id, r2.session_id);
    assert_ne!(r1.refresh_token, r2.refresh_token);
    assert_ne!(r1.access_token, r2.access_token);
}

async fn grace_retry_returns_the_current_token_without_advancing(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    w.tick(w.cfg.refresh_grace - 1);
    let retry = w.svc.refresh(&r0.refresh_token).await.unwrap();
    assert_eq!(
        (retry.generation, &retry.refresh_token),
        (1, &r1.refresh_token)
    );
    assert_ne!(retry.access_token, r1.access_token);
    // Not advanced: R1 is still the current generation and rotates to 2.
    assert_eq!(
        w.svc.refresh(&r1.refresh_token).await.unwrap().generation,
        2
    );
}

async fn grace_window_closes_at_exactly_refresh_grace(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    w.tick(w.cfg.refresh_grace);
    assert_eq!(
        w.svc.refresh(&r0.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Reuse))
    );
    assert_eq!(
        w.svc.refresh(&r1.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
}

async fn grace_covers_only_the_previous_generation(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    let r2 = w.svc.refresh(&r1.refresh_token).await.unwrap();
    assert_eq!(
        w.svc.refresh(&r0.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Reuse))
    );
    assert_eq!(
        w.svc.refresh(&r2.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
}

async fn reuse_revokes_the_whole_session(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let other = w.login("alice").await;
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    w.tick(w.cfg.refresh_grace + 5);
    assert_eq!(
        w.svc.refresh(&r0.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Reuse))
    );
    let revoked = Err(AuthError::Unauthorized(TokenError::Revoked));
    assert_eq!(w.svc.access(&r0.access_token).await, revoked);
    assert_eq!(w.svc.access(&r1.access_token).await, revoked);
    assert_eq!(
        w.svc.refresh(&r1.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    // Reuse again: still reported as revoked, and the user's other session is untouched.
    assert_eq!(
        w.svc.refresh(&r0.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    assert!(w.svc.access(&other.access_token).await.is_ok());
}

async fn unknown_and_forged_refresh_tokens_change_nothing(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    let unknown = Err(AuthError::InvalidGrant(GrantError::Unknown));
    let v2 = format!(
        "v2.{}.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        r0.session_id
    );
    let truncated = &r0.refresh_token[..r0.refresh_token.len() - 1];
    for bad in [
        "",
        "rt_nope",
        "garbage",
        v2.as_str(),
        truncated,
        &r0.access_token,
    ] {
        assert_eq!(w.svc.refresh(bad).await, unknown, "{bad:?}");
    }
    assert_eq!(
        w.svc.refresh(&r0.refresh_token).await.unwrap().generation,
        1
    );
}

async fn rotation_keeps_earlier_access_tokens_until_their_ttl(w: World) {
    w.user("alice").await;
    let r0 = w.login("alice").await;
    w.tick(100);
    let r1 = w.svc.refresh(&r0.refresh_token).await.unwrap();
    assert!(w.svc.access(&r0.access_token).await.is_ok());
    w.tick(w.cfg.access_ttl - 100);
    assert_eq!(
        w.svc.access(&r0.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Expired))
    );
    assert!(w.svc.access(&r1.access_token).await.is_ok());
}

async fn access_token_expires_at_exactly_its_ttl(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    w.tick(w.cfg.access_ttl - 1);
    let principal = w.svc.access(&t.access_token).await.unwrap();
    assert_eq!(
        (principal.username.as_str(), principal.session_id),
        ("alice", t.session_id)
    );
    w.tick(1);
    assert_eq!(
        w.svc.access(&t.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Expired))
    );
    assert_eq!(
        w.svc.sensitive(&t.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Expired))
    );
}

async fn idle_timeout_ends_a_session_and_activity_defers_it(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    w.tick(w.cfg.idle_timeout - 1);
    let t = w.svc.refresh(&t.refresh_token).await.unwrap(); // activity moves last_active
    w.tick(w.cfg.idle_timeout - 1);
    let t = w.svc.refresh(&t.refresh_token).await.unwrap();
    w.tick(w.cfg.idle_timeout);
    assert_eq!(
        w.svc.refresh(&t.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Expired))
    );
    // A grace retry is activity too.
    let u = w.login("alice").await;
    let u1 = w.svc.refresh(&u.refresh_token).await.unwrap();
    w.tick(w.cfg.refresh_grace - 1);
    w.svc.refresh(&u.refresh_token).await.unwrap();
    w.tick(w.cfg.idle_timeout - 1);
    assert!(w.svc.refresh(&u1.refresh_token).await.is_ok());
}

async fn absolute_timeout_ends_even_an_active_session(w: World) {
    w.user("alice").await;
    let mut t = w.login("alice").await;
    let step = w.cfg.idle_timeout - 100;
    let mut elapsed = 0;
    while elapsed + step < w.cfg.absolute_timeout {
        w.tick(step);
        elapsed += step;
        t = w.svc.refresh(&t.refresh_token).await.unwrap();
    }
    w.tick(w.cfg.absolute_timeout - 1 - elapsed);
    let fresh = w.svc.refresh(&t.refresh_token).await.unwrap();
    w.tick(1);
    assert_eq!(
        w.svc.refresh(&fresh.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Expired))
    );
    assert_eq!(
        w.svc.access(&fresh.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Expired))
    );
}

async fn step_up_window_edge_and_reauthenticate(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    w.tick(w.cfg.step_up_window - 1);
    assert!(w.svc.sensitive(&t.access_token).await.is_ok());
    let t = w.svc.refresh(&t.refresh_token).await.unwrap(); // a refresh is not a proof of a factor
    w.tick(1);
    assert_eq!(
        w.svc.sensitive(&t.access_token).await,
        Err(AuthError::StepUpRequired)
    );
    assert!(w.svc.access(&t.access_token).await.is_ok());
    w.svc
        .reauthenticate(&t.access_token, PASSWORD)
        .await
        .unwrap();
    assert!(w.svc.sensitive(&t.access_token).await.is_ok());
}

async fn reauthenticate_rotates_nothing_and_wrong_password_is_not_counted(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    for _ in 0..w.cfg.lockout_threshold + 1 {
        assert_eq!(
            w.svc.reauthenticate(&t.access_token, WRONG).await,
            Err(AuthError::InvalidCredentials)
        );
    }
    w.svc
        .reauthenticate(&t.access_token, PASSWORD)
        .await
        .unwrap();
    assert_eq!(w.svc.refresh(&t.refresh_token).await.unwrap().generation, 1);
    w.login("alice").await; // not locked
    assert_eq!(
        w.svc.reauthenticate("at_nope", PASSWORD).await,
        Err(AuthError::Unauthorized(TokenError::Unknown))
    );
}

async fn logout_local_others_global(w: World) {
    w.user("alice").await;
    w.user("bob").await;
    let bob = w.login("bob").await;
    let revoked = Err(AuthError::Unauthorized(TokenError::Revoked));

    let (a, b) = (w.login("alice").await, w.login("alice").await);
    w.svc
        .logout(&a.access_token, LogoutScope::Local)
        .await
        .unwrap();
    assert_eq!(w.svc.access(&a.access_token).await, revoked);
    assert_eq!(
        w.svc.refresh(&a.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    assert!(w.svc.access(&b.access_token).await.is_ok());

    let c = w.login("alice").await;
    w.svc
        .logout(&c.access_token, LogoutScope::Others)
        .await
        .unwrap();
    assert_eq!(w.svc.access(&b.access_token).await, revoked);
    assert!(w.svc.access(&c.access_token).await.is_ok());

    let d = w.login("alice").await;
    w.svc
        .logout(&d.access_token, LogoutScope::Global)
        .await
        .unwrap();
    assert_eq!(w.svc.access(&c.access_token).await, revoked);
    assert_eq!(w.svc.access(&d.access_token).await, revoked);
    assert_eq!(
        w.svc.logout(&d.access_token, LogoutScope::Local).await,
        Err(AuthError::Unauthorized(TokenError::Revoked))
    );
    assert!(
        w.svc.access(&bob.access_token).await.is_ok(),
        "other users are untouched"
    );
}

async fn change_password_rotates_without_grace_and_revokes_the_rest(w: World) {
    w.user("alice").await;
    let other = w.login("alice").await;
    let cur = w.login("alice").await;
    let new_password = "a brand new password";
    let next = w
        .svc
        .change_password(&cur.access_token, PASSWORD, new_password)
        .await
        .unwrap();
    assert_eq!(
        (next.session_id.as_str(), next.generation),
        (cur.session_id.as_str(), 1)
    );
    assert_eq!(
        w.svc.access(&cur.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Revoked))
    );
    assert!(w.svc.access(&next.access_token).await.is_ok());
    assert_eq!(
        w.svc.refresh(&other.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    assert_eq!(
        w.login_err("alice", PASSWORD).await,
        AuthError::InvalidCredentials
    );
    assert!(w.svc.login("alice", new_password, "d").await.is_ok());
    // No grace for the pre-change refresh token: presenting it is reuse.
    assert_eq!(
        w.svc.refresh(&cur.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Reuse))
    );
    assert_eq!(
        w.svc.access(&next.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Revoked))
    );
}

async fn change_password_rejections(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    let svc = &w.svc;
    assert_eq!(
        svc.change_password("at_x", PASSWORD, "another password")
            .await,
        Err(AuthError::Unauthorized(TokenError::Unknown))
    );
    assert_eq!(
        svc.change_password(&t.access_token, WRONG, "another password")
            .await,
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        svc.change_password(&t.access_token, PASSWORD, "short")
            .await,
        Err(AuthError::WeakPassword)
    );
    // Nothing changed, and wrong old passwords were not counted towards a lock.
    for _ in 0..w.cfg.lockout_threshold {
        let _ = svc
            .change_password(&t.access_token, WRONG, "another password")
            .await;
    }
    w.login("alice").await;
    assert!(svc.access(&t.access_token).await.is_ok());
}

async fn admin_disable_revokes_and_refuses_until_enabled(w: World) {
    w.user("alice").await;
    w.mfa_user("carol").await;
    let t = w.login("alice").await;
    let pending = w.challenge("carol").await;
    w.svc.admin_disable("Alice").await.unwrap();
    w.svc.admin_disable("carol").await.unwrap();
    assert_eq!(
        w.svc.refresh(&t.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    assert_eq!(
        w.svc.access(&t.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Revoked))
    );
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Disabled);
    assert_eq!(
        w.svc.verify_mfa(&pending, &w.code("carol")).await,
        Err(AuthError::ChallengeExpired)
    );
    w.svc.admin_enable("alice").await.unwrap();
    w.login("alice").await;
    assert_eq!(
        w.svc.refresh(&t.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
}

async fn admin_ops_on_unknown_users(w: World) {
    for name in ["nobody", "", "bad name"] {
        assert_eq!(w.svc.admin_disable(name).await, Err(AuthError::UnknownUser));
        assert_eq!(w.svc.admin_enable(name).await, Err(AuthError::UnknownUser));
        assert_eq!(w.svc.admin_unlock(name).await, Err(AuthError::UnknownUser));
    }
}

async fn lockout_at_exactly_the_threshold(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold - 1 {
        assert_eq!(
            w.login_err("alice", WRONG).await,
            AuthError::InvalidCredentials
        );
    }
    w.login("alice").await; // threshold - 1 wrong: still open (and the count resets)
    for _ in 0..w.cfg.lockout_threshold {
        assert_eq!(
            w.login_err("alice", WRONG).await,
            AuthError::InvalidCredentials
        );
    }
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Locked);
}

async fn locked_account_refuses_the_right_password_and_counts_nothing(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold {
        w.login_err("alice", WRONG).await;
    }
    for _ in 0..10 {
        assert_eq!(w.login_err("alice", WRONG).await, AuthError::Locked);
    }
    // The attempts while locked did not extend the lock or count towards the next one.
    w.tick(w.cfg.lockout_duration);
    for _ in 0..w.cfg.lockout_threshold - 1 {
        assert_eq!(
            w.login_err("alice", WRONG).await,
            AuthError::InvalidCredentials
        );
    }
    w.login("alice").await;
}

async fn lock_lapses_at_exactly_locked_until(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold {
        w.login_err("alice", WRONG).await;
    }
    w.tick(w.cfg.lockout_duration - 1);
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Locked);
    w.tick(1);
    w.login("alice").await;
}

async fn admin_unlock_clears_the_lock(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold {
        w.login_err("alice", WRONG).await;
    }
    w.svc.admin_unlock("alice").await.unwrap();
    w.login("alice").await;
    // Unlock also clears a partial count.
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("alice", WRONG).await;
    }
    w.svc.admin_unlock("alice").await.unwrap();
    w.login_err("alice", WRONG).await;
    w.login("alice").await;
}

async fn lockout_is_per_canonical_account(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("Alice", WRONG).await;
    }
    w.login_err("ａｌｉｃｅ", WRONG).await;
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Locked);
}

async fn success_resets_the_failure_count(w: World) {
    w.user("alice").await;
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("alice", WRONG).await;
    }
    w.login("alice").await;
    w.login_err("alice", WRONG).await;
    w.login("alice").await;
}

async fn correct_password_resets_the_count_even_when_a_later_step_fails(w: World) {
    w.mfa_user("alice").await;
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("alice", WRONG).await;
    }
    w.otp.set_mode(OtpMode::Down);
    assert_eq!(
        w.login_err("alice", PASSWORD).await,
        AuthError::UpstreamUnavailable
    );
    w.otp.set_mode(OtpMode::Up);
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("alice", WRONG).await;
    }
    w.svc.admin_disable("alice").await.unwrap();
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Disabled);
    w.svc.admin_enable("alice").await.unwrap();
    for _ in 0..w.cfg.lockout_threshold - 1 {
        w.login_err("alice", WRONG).await;
    }
    w.challenge("alice").await;
}

async fn unknown_users_leave_no_state(w: World) {
    for _ in 0..w.cfg.lockout_threshold * 2 {
        assert_eq!(
            w.login_err("bob", WRONG).await,
            AuthError::InvalidCredentials
        );
        assert_eq!(
            w.login_err("bob", PASSWORD).await,
            AuthError::InvalidCredentials
        );
    }
    w.user("bob").await;
    w.login_err("bob", WRONG).await;
    w.login("bob").await;
}

async fn a_lock_does_not_end_existing_sessions(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    for _ in 0..w.cfg.lockout_threshold {
        w.login_err("alice", WRONG).await;
    }
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Locked);
    assert!(w.svc.access(&t.access_token).await.is_ok());
    let t = w.svc.refresh(&t.refresh_token).await.unwrap();
    w.svc
        .reauthenticate(&t.access_token, PASSWORD)
        .await
        .unwrap();
}

async fn login_check_order(w: World) {
    w.user("alice").await;
    w.svc.admin_disable("alice").await.unwrap();
    // Disabled, wrong password: the password is checked (and counted) first.
    for _ in 0..w.cfg.lockout_threshold {
        assert_eq!(
            w.login_err("alice", WRONG).await,
            AuthError::InvalidCredentials
        );
    }
    // Locked beats disabled.
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Locked);
    w.svc.admin_unlock("alice").await.unwrap();
    assert_eq!(w.login_err("alice", PASSWORD).await, AuthError::Disabled);
    // Unknown user beats everything.
    assert_eq!(
        w.login_err("zed", PASSWORD).await,
        AuthError::InvalidCredentials
    );
}

async fn token_check_order_revoked_before_expired(w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    w.svc
        .logout(&t.access_token, LogoutScope::Local)
        .await
        .unwrap();
    w.tick(w.cfg.absolute_timeout + 1);
    assert_eq!(
        w.svc.access(&t.access_token).await,
        Err(AuthError::Unauthorized(TokenError::Revoked))
    );
    assert_eq!(
        w.svc.refresh(&t.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Revoked))
    );
    assert_eq!(
        w.svc.access("at_unknown").await,
        Err(AuthError::Unauthorized(TokenError::Unknown))
    );
}

async fn revoke_any_token_of_a_session_revokes_it(w: World) {
    w.user("alice").await;
    w.mfa_user("carol").await;
    let revoked = Err(AuthError::Unauthorized(TokenError::Revoked));
    // Access token.
    let a = w.login("alice").await;
    w.svc.revoke(&a.access_token).await.unwrap();
    assert_eq!(w.svc.access(&a.access_token).await, revoked);
    // An old refresh generation, long after the grace window.
    let b = w.login("alice").await;
    let b1 = w.svc.refresh(&b.refresh_token).await.unwrap();
    w.tick(60);
    w.svc.revoke(&b.refresh_token).await.unwrap();
    assert_eq!(w.svc.access(&b1.access_token).await, revoked);
    // Garbage, a challenge id, an already revoked token: all answered, nothing else changes.
    let c = w.login("alice").await;
    let challenge = w.challenge("carol").await;
    for junk in [
        "",
        "garbage",
        "v2.s_x.1.AAAA",
        challenge.as_str(),
        a.refresh_token.as_str(),
    ] {
        w.svc.revoke(junk).await.unwrap();
    }
    assert!(w.svc.access(&c.access_token).await.is_ok());
    assert!(w.svc.verify_mfa(&challenge, &w.code("carol")).await.is_ok());
}

async fn deploys_in_both_directions_log_nobody_out(mut w: World) {
    w.user("alice").await;
    w.mfa_user("carol").await;
    let v1 = w.login("alice").await;
    assert!(v1.refresh_token.starts_with("rt_"));
    let pending = w.challenge("carol").await;
    w.deploy(Protocol::V2);
    assert!(w.svc.access(&v1.access_token).await.is_ok());
    let v2 = w.svc.refresh(&v1.refresh_token).await.unwrap();
    assert!(v2.refresh_token.starts_with("v2."), "{}", v2.refresh_token);
    let carol = w.svc.verify_mfa(&pending, &w.code("carol")).await.unwrap();
    w.deploy(Protocol::V1);
    // The V1 build accepts the V2 token, and a grace retry of the V1 token returns the V2 one.
    let retry = w.svc.refresh(&v1.refresh_token).await.unwrap();
    assert_eq!(retry.refresh_token, v2.refresh_token);
    let back = w.svc.refresh(&v2.refresh_token).await.unwrap();
    assert!(back.refresh_token.starts_with("rt_"));
    assert!(w.svc.access(&carol.access_token).await.is_ok());
    w.deploy(Protocol::V2);
    assert_eq!(
        w.svc.refresh(&back.refresh_token).await.unwrap().generation,
        3
    );
}

async fn deploys_never_revive_a_revoked_token(mut w: World) {
    w.user("alice").await;
    let t = w.login("alice").await;
    let t1 = w.svc.refresh(&t.refresh_token).await.unwrap();
    w.tick(w.cfg.refresh_grace);
    assert_eq!(
        w.svc.refresh(&t.refresh_token).await,
        Err(AuthError::InvalidGrant(GrantError::Reuse))
    );
    for protocol in [Protocol::V2, Protocol::V1, Protocol::V2] {
        w.deploy(protocol);
        assert_eq!(
            w.svc.refresh(&t1.refresh_token).await,
            Err(AuthError::InvalidGrant(GrantError::Revoked))
        );
        assert_eq!(
            w.svc.access(&t1.access_token).await,
            Err(AuthError::Unauthorized(TokenError::Revoked))
        );
    }
}

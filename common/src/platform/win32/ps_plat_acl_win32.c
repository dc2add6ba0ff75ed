/* Access control lists standing in for POSIX modes on Windows.
 *
 * Linux keeps the key 0600 and the database 0640, owned by the podstream user. Here
 * the same files get a protected DACL (nothing inherited from the folder) that
 * grants SYSTEM and Administrators, the service's own account NT SERVICE\podstream
 * (the podstream user's counterpart: the virtual account the service runs as), the
 * creating user when it is neither SYSTEM nor elevated (a non-elevated admin or the
 * GUI must read back what it wrote), and for group-readable modes the local group
 * "podstream readers" when an admin created it. ps_plat_check_private refuses a file
 * whose DACL lets anybody else read it. */
#include "platform/win32/ps_plat_win32.h"

#include <aclapi.h>
#include <bcrypt.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

bool ps_w32_service_sid(const wchar_t *name, PSID sid)
{
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE h = NULL;
    wchar_t upper[257];
    unsigned char digest[20];
    int n;
    bool ok = false;

    /* Windows hashes the upper-cased name in UTF-16LE (what wchar_t is here). */
    n = LCMapStringEx(LOCALE_NAME_INVARIANT, LCMAP_UPPERCASE, name, -1, upper, 257, NULL, NULL, 0);
    if (n <= 1)
        return false;
    if (BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA1_ALGORITHM, NULL, 0) < 0)
        return false;
    if (BCryptCreateHash(alg, &h, NULL, 0, NULL, 0, 0) >= 0 &&
        BCryptHashData(h, (PUCHAR)upper, (ULONG)(n - 1) * sizeof(wchar_t), 0) >= 0 &&
        BCryptFinishHash(h, digest, sizeof digest, 0) >= 0 && InitializeSid(sid, &nt, 6)) {
        *GetSidSubAuthority(sid, 0) = SECURITY_SERVICE_ID_BASE_RID;
        for (DWORD i = 0; i < 5; i++)
            *GetSidSubAuthority(sid, i + 1) = (DWORD)digest[i * 4] | (DWORD)digest[i * 4 + 1] << 8 |
                                              (DWORD)digest[i * 4 + 2] << 16 |
                                              (DWORD)digest[i * 4 + 3] << 24;
        ok = true;
    }
    if (h)
        BCryptDestroyHash(h);
    BCryptCloseAlgorithmProvider(alg, 0);
    return ok;
}

/* The user of this process's token into `sid` (SECURITY_MAX_SID_SIZE bytes), and
 * whether the token is elevated. */
static bool token_user(PSID sid, bool *elevated)
{
    HANDLE tok;
    union {
        TOKEN_USER tu;
        BYTE raw[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
    } u;
    TOKEN_ELEVATION el = {0};
    DWORD len;
    bool ok;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return false;
    ok = GetTokenInformation(tok, TokenUser, &u, sizeof u, &len) &&
         CopySid(SECURITY_MAX_SID_SIZE, sid, u.tu.User.Sid);
    if (elevated)
        *elevated =
            GetTokenInformation(tok, TokenElevation, &el, sizeof el, &len) && el.TokenIsElevated;
    CloseHandle(tok);
    return ok;
}

/* Appends "(A;<inherit>;<rights>;;;<sid>)" to the SDDL being built. */
static void add_ace(wchar_t *sddl, size_t cap, bool is_dir, const wchar_t *rights, PSID sid)
{
    wchar_t *str = NULL;
    size_t n = wcslen(sddl);
    if (!ConvertSidToStringSidW(sid, &str))
        return;
    _snwprintf(sddl + n, cap - n, L"(A;%ls;%ls;;;%ls)", is_dir ? L"OICI" : L"", rights, str);
    sddl[cap - 1] = L'\0';
    LocalFree(str);
}

/* The SID of the local group "podstream readers" into `sid`; false when there is
 * none. */
static bool readers_group(PSID sid)
{
    wchar_t domain[256];
    DWORD cb = SECURITY_MAX_SID_SIZE, dcb = 256;
    SID_NAME_USE use;
    return LookupAccountNameW(NULL, PS_W32_READERS_GROUP, sid, &cb, domain, &dcb, &use) &&
           (use == SidTypeAlias || use == SidTypeGroup);
}

ps_err ps_w32_mode_sd(unsigned mode, bool is_dir, PSECURITY_DESCRIPTOR *out)
{
    BYTE user[SECURITY_MAX_SID_SIZE], svc[SECURITY_MAX_SID_SIZE], readers[SECURITY_MAX_SID_SIZE];
    wchar_t sddl[1024];
    bool elevated = false;

    *out = NULL;
    if (mode & 0004)
        return PS_OK; /* readable by all on POSIX: the folder's inherited ACL will do */
    /* SY and BA by alias: their SIDs are the same on every Windows. */
    _snwprintf(sddl, 1024, L"D:P(A;%ls;FA;;;SY)(A;%ls;FA;;;BA)", is_dir ? L"OICI" : L"",
               is_dir ? L"OICI" : L"");
    sddl[1023] = L'\0';
    if (ps_w32_service_sid(PS_W32_SERVICE_NAME, svc))
        add_ace(sddl, 1024, is_dir, L"FA", svc);
    if (token_user(user, &elevated) && !elevated && !IsWellKnownSid(user, WinLocalSystemSid) &&
        !EqualSid(user, svc))
        add_ace(sddl, 1024, is_dir, L"FA", user);
    /* Read (and for a folder, list and traverse): FILE_GENERIC_READ | EXECUTE. */
    if ((mode & 0040) && readers_group(readers))
        add_ace(sddl, 1024, is_dir, is_dir ? L"0x1200a9" : L"0x120089", readers);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, out, NULL))
        return PS_ERR_INTERNAL;
    return PS_OK;
}

/* True for SIDs that stand for many accounts, named in the message as such. */
static bool is_broad(PSID sid)
{
    static const WELL_KNOWN_SID_TYPE broad[] = {
        WinWorldSid,       WinBuiltinUsersSid,  WinAuthenticatedUserSid,
        WinInteractiveSid, WinBuiltinGuestsSid, WinAnonymousSid,
        WinNetworkSid,     WinLocalSid,         WinBuiltinRemoteDesktopUsersSid,
        WinBatchSid,       WinServiceSid,       WinAccountDomainUsersSid,
    };
    for (size_t i = 0; i < sizeof broad / sizeof broad[0]; i++)
        if (IsWellKnownSid(sid, broad[i]))
            return true;
    return false;
}

/* Whether `sid` may read a private file: SYSTEM, Administrators, the file's owner
 * (unless a broad group), this process's user, or the service's account. */
static bool may_read(PSID sid, PSID owner, PSID self, PSID svc)
{
    if (is_broad(sid))
        return false;
    return IsWellKnownSid(sid, WinLocalSystemSid) ||
           IsWellKnownSid(sid, WinBuiltinAdministratorsSid) || (owner && EqualSid(sid, owner)) ||
           (self && EqualSid(sid, self)) || EqualSid(sid, svc);
}

/* "DOMAIN\name" of `sid`, or its S-1-... spelling, into buf. */
static void sid_name(PSID sid, char *buf, size_t len)
{
    wchar_t name[256], domain[256], *str = NULL;
    DWORD nn = 256, dn = 256;
    SID_NAME_USE use;
    char *u = NULL;

    if (LookupAccountSidW(NULL, sid, name, &nn, domain, &dn, &use)) {
        wchar_t both[520];
        _snwprintf(both, 520, dn && domain[0] ? L"%ls\\%ls" : L"%ls%ls", domain, name);
        both[519] = L'\0';
        u = ps_w32_utf8(both);
    } else if (ConvertSidToStringSidW(sid, &str)) {
        u = ps_w32_utf8(str);
        LocalFree(str);
    }
    snprintf(buf, len, "%s", u ? u : "an unknown account");
    free(u);
}

/* The first ACE of `dacl` that lets a SID outside may_read() read the file (or change
 * who may); NULL when there is none. */
static PSID first_reader_too_many(PACL dacl, PSID owner, PSID self, PSID svc)
{
    const ACCESS_MASK reads = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_DAC | WRITE_OWNER;
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE *ace;
        if (!GetAce(dacl, i, (void **)&ace))
            continue;
        if (ace->Header.AceType != ACCESS_ALLOWED_ACE_TYPE ||
            (ace->Header.AceFlags & INHERIT_ONLY_ACE) || !(ace->Mask & reads))
            continue;
        if (!may_read((PSID)&ace->SidStart, owner, self, svc))
            return (PSID)&ace->SidStart;
    }
    return NULL;
}

ps_err ps_plat_check_private(const char *path, ps_errmsg *em)
{
    BYTE self[SECURITY_MAX_SID_SIZE], svc[SECURITY_MAX_SID_SIZE];
    wchar_t *w = ps_w32_path(path);
    PSECURITY_DESCRIPTOR sd = NULL;
    PSID owner = NULL, bad;
    PACL dacl = NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    char why[128], who[300];
    ps_err err = PS_OK;
    DWORD rc, attrs;

    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    attrs = GetFileAttributesW(w);
    if (attrs == INVALID_FILE_ATTRIBUTES) {
        rc = GetLastError();
        err = ps_errmsg_set(em, ps_w32_err(rc), "cannot stat %s: %s", path,
                            ps_w32_strerror(rc, why, sizeof why));
        goto out;
    }
    if (attrs & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE)) {
        err = ps_errmsg_set(em, PS_ERR_PERM, "%s is not a regular file", path);
        goto out;
    }
    h = CreateFileW(w, READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    OPEN_EXISTING, 0, NULL);
    rc = h == INVALID_HANDLE_VALUE
             ? GetLastError()
             : GetSecurityInfo(h, SE_FILE_OBJECT,
                               OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, NULL,
                               &dacl, NULL, &sd);
    if (rc != ERROR_SUCCESS) {
        err = ps_errmsg_set(em, ps_w32_err(rc), "cannot read the permissions of %s: %s", path,
                            ps_w32_strerror(rc, why, sizeof why));
        goto out;
    }
    if (!dacl) {
        err = ps_errmsg_set(em, PS_ERR_PERM,
                            "%s has no access control list: everyone could read it; run "
                            "'icacls \"%s\" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F'",
                            path, path);
        goto out;
    }
    if (!ps_w32_service_sid(PS_W32_SERVICE_NAME, svc))
        memset(svc, 0, sizeof svc); /* an invalid SID equals nothing */
    bad = first_reader_too_many(dacl, owner, token_user(self, NULL) ? self : NULL, svc);
    if (bad) {
        char *sidstr = NULL;
        wchar_t *ws = NULL;
        if (ConvertSidToStringSidW(bad, &ws)) {
            sidstr = ps_w32_utf8(ws);
            LocalFree(ws);
        }
        sid_name(bad, who, sizeof who);
        err = ps_errmsg_set(em, PS_ERR_PERM,
                            "%s can be read by %s: other users could read it; run 'icacls \"%s\" "
                            "/inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F' and 'icacls "
                            "\"%s\" /remove:g *%s'",
                            path, who, path, path, sidstr ? sidstr : "?");
        free(sidstr);
    }
out:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    LocalFree(sd);
    free(w);
    return err;
}

/* A file made in a folder inherits the folder's ACL, which is what gives the
 * service its access (ps_plat_protect_dir): there is no owner to hand on. */
ps_err ps_plat_copy_owner(const char *from, const char *to, bool with_mode, ps_errmsg *em)
{
    (void)from;
    (void)to;
    (void)with_mode;
    (void)em;
    return PS_OK;
}

ps_err ps_plat_protect_dir(const char *dir, unsigned mode, ps_errmsg *em)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    wchar_t *w = NULL;
    DWORD rc = ERROR_SUCCESS;
    char why[128];
    ps_err err = ps_w32_mode_sd(mode, true, &sd);

    if (err != PS_OK)
        return ps_errmsg_set(em, err, "cannot build the access list for %s", dir);
    if (!sd)
        return PS_OK; /* world-readable: the inherited ACL is what such a mode means */
    w = ps_w32_path(dir);
    if (!w) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Setting a folder's DACL also passes its inheritable entries on to what is in it. */
    if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) ||
        (rc = SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                    NULL, NULL, dacl, NULL)) != ERROR_SUCCESS)
        err = ps_errmsg_set(em, ps_w32_err(rc), "cannot set the access list of %s: %s", dir,
                            ps_w32_strerror(rc, why, sizeof why));
out:
    free(w);
    LocalFree(sd);
    return err;
}

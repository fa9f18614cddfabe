//! Reading `/etc/passwd` and `/etc/group` text, the way libc's `getpwnam` and
//! `getgrouplist` see it: comments, blank and malformed lines are skipped, the first
//! well-formed entry of a name wins.

/// One well-formed `/etc/passwd` entry (only the fields the shim needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// The first well-formed `/etc/passwd` entry named `name`, if any.
///
/// A well-formed line has exactly seven `:`-separated fields with numeric uid and gid.
pub fn find_user(passwd: &str, name: &str) -> Option<PasswdEntry> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let [user, _password, uid, gid, _gecos, home, _shell] = fields.as_slice() else {
            return None;
        };
        if *user != name || is_comment(line) {
            return None;
        }
        Some(PasswdEntry {
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: (*home).to_string(),
        })
    })
}

/// The group ids of every well-formed `/etc/group` entry that lists `name` as a member,
/// in file order.
///
/// A well-formed line has exactly four `:`-separated fields with a numeric gid; the last
/// field is a comma-separated member list.
pub fn supplementary_groups(group: &str, name: &str) -> Vec<u32> {
    group
        .lines()
        .filter(|line| !is_comment(line))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let [_group, _password, gid, members] = fields.as_slice() else {
                return None;
            };
            let gid: u32 = gid.parse().ok()?;
            members
                .split(',')
                .any(|member| member == name)
                .then_some(gid)
        })
        .collect()
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# krakend:x:7:7::/commented:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
krakend:!:1000:65533::/home/krakend:/sbin/nologin
krakend:x:2000:2000::/second:/bin/sh
";

    #[test]
    fn finds_the_first_well_formed_entry_and_skips_comments() {
        assert_eq!(
            find_user(PASSWD, "krakend"),
            Some(PasswdEntry {
                uid: 1000,
                gid: 65533,
                home: "/home/krakend".into()
            })
        );
        assert_eq!(find_user(PASSWD, "root").map(|e| e.uid), Some(0));
    }

    #[test]
    fn absent_user_is_none() {
        assert_eq!(find_user(PASSWD, "krakend2"), None);
        assert_eq!(find_user(PASSWD, "kraken"), None);
        assert_eq!(find_user("", "krakend"), None);
    }

    #[test]
    fn malformed_lines_are_skipped_not_fatal() {
        let passwd = "\
krakend:x:1000
krakend:x:notanumber:65533::/h:/bin/sh
krakend:x:1000:65533::/h:/bin/sh:extra
krakend:x:-1:65533::/h:/bin/sh
krakend:x:1001:65533::/good:/sbin/nologin
";
        assert_eq!(
            find_user(passwd, "krakend"),
            Some(PasswdEntry {
                uid: 1001,
                gid: 65533,
                home: "/good".into()
            })
        );
    }

    #[test]
    fn supplementary_groups_are_the_groups_listing_the_user() {
        let group = "\
root:x:0:
nogroup:x:65533:
# audio:x:29:krakend
audio:x:29:krakend
video:x:44:alice,krakend,bob
users:x:100:krakend2,xkrakend
broken:x:oops:krakend
short:x:12
staff:x:50:alice
";
        assert_eq!(supplementary_groups(group, "krakend"), vec![29, 44]);
        assert_eq!(supplementary_groups(group, "alice"), vec![44, 50]);
        assert!(supplementary_groups(group, "nobody").is_empty());
        assert!(supplementary_groups("", "krakend").is_empty());
    }
}

"""App roles that grant each kind of Graph operation (graph-api.md 5); shared by routing and handlers."""

from __future__ import annotations

AUTH_READ = frozenset({"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"})
AUTH_WRITE = frozenset({"UserAuthenticationMethod.ReadWrite.All"})
PHONE_READ = AUTH_READ | {"UserAuthMethod-Phone.Read.All", "UserAuthMethod-Phone.ReadWrite.All"}
PHONE_WRITE = AUTH_WRITE | {"UserAuthMethod-Phone.ReadWrite.All"}
EMAIL_READ = AUTH_READ | {"UserAuthMethod-Email.Read.All", "UserAuthMethod-Email.ReadWrite.All"}
EMAIL_WRITE = AUTH_WRITE | {"UserAuthMethod-Email.ReadWrite.All"}
USER_READ = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
USER_READ_BASIC = USER_READ | {"User.ReadBasic.All"}
USER_WRITE = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})
# User-Phone.ReadWrite.All is the least-privileged role for mobilePhone/businessPhones (graph-api.md 5).
PROFILE_PHONE_WRITE = USER_WRITE | {"User-Phone.ReadWrite.All"}
GROUP_READ = frozenset(
    {"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All",
     "Directory.Read.All", "Directory.ReadWrite.All"}
)  # fmt: skip
# GET /users/{id}/transitiveMemberOf (user-list-transitivememberof.md, application): User.Read.All least,
# Directory.Read(Write).All, Group.Read.All, GroupMember.Read.All higher.
MEMBERSHIP_READ = USER_READ | {"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All",
                               "Group.ReadWrite.All"}  # fmt: skip
# Roles that read directoryRole objects in full; others get them with limited information.
ROLE_READ = frozenset(
    {"RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", "RoleManagement.Read.All",
     "Directory.Read.All", "Directory.ReadWrite.All"}
)  # fmt: skip

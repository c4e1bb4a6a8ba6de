# Install rules (everything in its Debian 12 place with CMAKE_INSTALL_PREFIX=/usr) and the
# Debian package (CPack DEB). Included at the end of the top-level CMakeLists.txt.
#
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build-pkg
#   DESTDIR=/tmp/root cmake --install build-pkg        # or: packaging/build-deb.sh build-pkg
include(GNUInstallDirs)

# Where systemd looks on this distribution: Debian 12's systemd.pc says /lib/systemd/system
# (lintian 2.116 rejects units under /usr/lib/systemd/system) and /usr/lib/sysusers.d.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_get_variable(_ispf_pc_unitdir systemd systemdsystemunitdir)
  pkg_get_variable(_ispf_pc_sysusersdir systemd sysusersdir)
  pkg_get_variable(_ispf_pc_catalogdir systemd catalogdir)
endif()
if(NOT _ispf_pc_unitdir)
  set(_ispf_pc_unitdir /lib/systemd/system)
endif()
if(NOT _ispf_pc_sysusersdir)
  set(_ispf_pc_sysusersdir /usr/lib/sysusers.d)
endif()
set(ISPF_SYSTEMD_UNIT_DIR ${_ispf_pc_unitdir} CACHE PATH "Directory of systemd system units")
set(ISPF_SYSUSERS_DIR ${_ispf_pc_sysusersdir} CACHE PATH "Directory of sysusers.d files")
if(NOT _ispf_pc_catalogdir)
  set(_ispf_pc_catalogdir /usr/lib/systemd/catalog)
endif()
set(ISPF_CATALOG_DIR ${_ispf_pc_catalogdir} CACHE PATH "Directory of the journal's message catalogs")
# /etc whatever the prefix: the units read /etc/ispfailover/*.conf, and the package (CPack
# installs with the build dir's configure-time paths) must not put them under /usr/local/etc.
set(ISPF_SYSCONFDIR /etc CACHE PATH "Configuration directory (the units read /etc/ispfailover)")
# Debian 12's iproute2 (6.1) reads rt_protos.d only under /etc/iproute2 (/usr/share/iproute2
# comes with iproute2 6.5); the file is a conffile there.
set(ISPF_IPROUTE2_CONF_DIR ${ISPF_SYSCONFDIR}/iproute2)
set(ISPF_CONF_DIR ${ISPF_SYSCONFDIR}/ispfailover)
set(ISPF_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/ispfailover)

install(TARGETS ispprobed failoverd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

install(FILES ${PROJECT_SOURCE_DIR}/systemd/ispprobed.service
              ${PROJECT_SOURCE_DIR}/systemd/failoverd.service
        DESTINATION ${ISPF_SYSTEMD_UNIT_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/systemd/ispfailover.sysusers
        DESTINATION ${ISPF_SYSUSERS_DIR} RENAME ispfailover.conf)
# The links from node_exporter's textfile directory to the metrics files under /run: not in
# tmpfiles.d (that would link both daemons' files on every host); each unit applies its own.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/metrics-link-failoverd.conf
              ${PROJECT_SOURCE_DIR}/systemd/metrics-link-ispprobed.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ispfailover)
# The journal's message catalog: `journalctl -x` explains each switch and state change with it.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/ispfailover.catalog
        DESTINATION ${ISPF_CATALOG_DIR})
# The commented examples are the live configuration files (conffiles in the package: an admin's
# edits survive upgrades); a pristine copy stays under the documentation.
install(FILES ${PROJECT_SOURCE_DIR}/config/ispprobed.conf ${PROJECT_SOURCE_DIR}/config/failoverd.conf
        DESTINATION ${ISPF_CONF_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/ispprobed.conf ${PROJECT_SOURCE_DIR}/config/failoverd.conf
        DESTINATION ${ISPF_DOC_DIR}/examples)
# Example hooks, not executable under doc (the admin copies them with install -m 0755), and the
# empty hook directory failoverd reads by default (root's, 0755: refused if others may write).
install(FILES ${PROJECT_SOURCE_DIR}/examples/hooks/10-logger ${PROJECT_SOURCE_DIR}/examples/hooks/50-webhook
        DESTINATION ${ISPF_DOC_DIR}/examples/hooks)
install(DIRECTORY DESTINATION ${ISPF_CONF_DIR}/hooks.d
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                              WORLD_READ WORLD_EXECUTE)
install(FILES ${PROJECT_SOURCE_DIR}/config/rt_protos.d/ispfailover.conf
        DESTINATION ${ISPF_IPROUTE2_CONF_DIR}/rt_protos.d)
# polkit's rule letting user failoverd set systemd-resolved's per-link DNS (--dns-manager
# resolved): resolved allows only root without it. Read only where polkitd is installed.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/ispfailover-polkit.rules
        DESTINATION ${CMAKE_INSTALL_DATADIR}/polkit-1/rules.d RENAME 50-ispfailover.rules)

# Man pages and the changelog, compressed as Debian wants them (gzip -9n: reproducible).
find_program(ISPF_GZIP gzip REQUIRED)
set(_ispf_gz_outputs)
foreach(_page ispprobed.8 failoverd.8)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/man/${_page}.gz)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND ${ISPF_GZIP} -9nc ${PROJECT_SOURCE_DIR}/docs/man/${_page} > ${_out}
    DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/${_page} VERBATIM)
  list(APPEND _ispf_gz_outputs ${_out})
  install(FILES ${_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endforeach()
set(_out ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(OUTPUT ${_out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/packaging
  COMMAND ${ISPF_GZIP} -9nc ${PROJECT_SOURCE_DIR}/packaging/debian/changelog > ${_out}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog VERBATIM)
list(APPEND _ispf_gz_outputs ${_out})
install(FILES ${_out} DESTINATION ${ISPF_DOC_DIR})
add_custom_target(ispf_compressed_docs ALL DEPENDS ${_ispf_gz_outputs})

install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright DESTINATION ${ISPF_DOC_DIR})
file(GLOB _ispf_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/*.md)
if(_ispf_docs)
  install(FILES ${_ispf_docs} DESTINATION ${ISPF_DOC_DIR})
endif()

# ---------------------------------------------------------------------------------------------
# The Debian package: packaging/build-deb.sh BUILD_DIR builds it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ispfailover)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ispfailover maintainers <maintainers@users.noreply.b-seed-5be76fd0.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ISP failover: line probes on routers, default-route failover on hosts")
set(CPACK_PACKAGE_DESCRIPTION
"ispprobed runs on each ISP router of a site: it probes the internet through
the router's uplink only and broadcasts the line's status to the LAN.
failoverd runs on the LAN hosts: it keeps their default route on the most
preferred router whose line is up, switching within a second of a failure
and returning after a failback delay.
.
Both run as systemd services under their own system users with a single
capability each; nothing is enabled on installation.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from the binaries (dpkg-shlibdeps); the rest by hand: systemd-sysusers
# creates the users in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "iproute2")
# failoverd --dns-manager resolved, as its own user, needs polkit to be allowed (the rule above).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "polkitd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)

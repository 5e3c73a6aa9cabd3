"""What the corpus gives, file by file, as the issues state it: one table for every test that checks it."""

# The expected pairs per corpus file (4658 closes paired with their 4656).
EXPECTED_PAIRS = {
    "evtx/EVTX-to-MITRE-Attack/ID4688_6416_4648-SystemNightMare.evtx": (10, 20),
    "json/mimikatz_CVE-2020-1472_Unauthenticated_NetrServerAuthenticate2.zip": (35, 70),
    "json/cmd_lsass_memory_dumpert_syscalls.zip": (3, 6),
    "json/rdp_interactive_taskmanager_lsass_dump.zip": (77, 169),
    "json/cmd_dumping_ntds_dit_file_ntdsutil.zip": (42, 456),
    "json/metasploit_procdump_lsass_memory_dump.zip": (7, 26),
    "json/empire_persistence_registry_modification_run_keys_standard_user.zip": (2294, 4547),
    "json/cmd_sharpview_pcre_net.zip": (17, 34),
    "json/empire_enable_rdp.tar.gz": (6, 12),
    "evtx/EVTX-to-MITRE-Attack/ID4656-4663-4658_Mimikatz_sekurlsa_password_dump.evtx": (0, 1),
    "evtx/EVTX-to-MITRE-Attack/ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx": (0, 77),
    "evtx/EVTX-ATTACK-SAMPLES/4765_sidhistory_add_t1178.evtx": (0, 1),
}

// `avkey key|journal|quarantine …`: commands on a prepared key (docs/key-format.md).
// Argument parsing stays in main.cpp; these print and return the exit status.
#pragma once

#include <string>
#include <vector>

namespace avkey::app {

// Remembers argv[0], used to find the key when /proc is not mounted.
void SetArgv0(const char* argv0);

// The key to work on: `explicit_root` if given, else the key this executable runs from;
// empty (with a message on stderr) when there is none.
std::string ResolveKeyRoot(const std::string& explicit_root, bool quiet_if_none);

struct KeyInitArgs {
  std::string root, signer, console_name = "avkey-console", policy_file;
  std::vector<std::string> signatures;
  std::string created;  // RFC 3339; default now
  bool install_binary = true;
};
int RunKeyInit(const KeyInitArgs& a);
int RunKeySignPolicy(const std::string& root, const std::string& signer, const std::string& policy_file);
int RunKeyPublish(const std::string& root, const std::string& signer, const std::vector<std::string>& files,
                  const std::string& created);
int RunKeyStatus(const std::string& root);

int RunJournalVerify(const std::string& root);
int RunJournalShow(const std::string& root);
int RunJournalExport(const std::string& root, const std::string& format);

int RunQuarantineList(const std::string& root);
int RunQuarantineRestore(const std::string& root, const std::string& id, const std::string& to);
int RunQuarantinePurge(const std::string& root, const std::string& id);

}  // namespace avkey::app

// Command-line plumbing both daemons share: duration options, and parse errors as exit code 2.
#include "ispfailover/io/cli_support.h"

#include <cmath>
#include <map>

namespace ispf {

CLI::Option* add_duration_option(CLI::App& app, const std::string& name, Duration& target,
                                 const std::string& help) {
  auto* option = app.add_option_function<double>(
      name,
      [&target](double milliseconds_value) {
        target = std::chrono::duration_cast<Duration>(
            std::chrono::duration<double, std::milli>(milliseconds_value));
      },
      help);
  option->transform(CLI::AsNumberWithUnit(
      std::map<std::string, double>{{"ms", 1.0}, {"s", 1000.0}, {"m", 60000.0}},
      static_cast<CLI::AsNumberWithUnit::Options>(CLI::AsNumberWithUnit::CASE_SENSITIVE |
                                                  CLI::AsNumberWithUnit::UNIT_REQUIRED),
      "DURATION"));
  // After the unit is applied the value is in milliseconds: refuse what no setting can mean
  // (a negative time, or one so large that casting it would overflow).
  option->check(CLI::Validator(
      [](std::string& value) -> std::string {
        double ms = 0;
        try {
          ms = std::stod(value);
        } catch (const std::exception&) {
          return "not a duration";
        }
        if (!(ms >= 0.0 && ms <= 86'400'000.0)) return "must be from 0ms to 24h";
        return "";
      },
      "", "DURATION-RANGE"));
  option->type_name("DURATION");
  option->default_str(format_duration(target));
  return option;
}

ParseOutcome parse_command_line(CLI::App& app, const std::vector<std::string>& args) {
  // CLI11 wants the arguments reversed and without the program name.
  std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return {false, kExitOk, ""};
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return {false, kExitOk, ""};
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return {false, kExitOk, ""};
  } catch (const CLI::ConfigError& e) {
    // CLI11 says e.g. "INI was not able to parse no-such-key": name the file and the fix.
    std::string file = app.get_config_ptr() ? app.get_config_ptr()->as<std::string>() : "";
    return {false, kExitUsage,
            "--config " + file + ": " + e.what() +
                " (an unknown key or a bad line; keys are the long options without dashes)"};
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    for (auto& c : message) {
      if (c == '\n') c = ' ';
    }
    return {false, kExitUsage, message};
  }
  return {true, kExitOk, ""};
}

}  // namespace ispf

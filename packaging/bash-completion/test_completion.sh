#!/usr/bin/env bash
# The bash completion (packaging/bash-completion/evthrottle) with bash-completion's
# own library: commands, options, and throttle names from /dev/shm.  TAP.
#   test_completion.sh COMPLETION_FILE
set -u
file=$1
lib=/usr/share/bash-completion/bash_completion
echo "1..11"
if [ ! -r "$lib" ]; then
	echo "Bail out! $lib is missing (apt-get install bash-completion)"
	exit 1
fi
name="compl.$$"
: >"/dev/shm/evthrottle.$name"
trap 'rm -f "/dev/shm/evthrottle.$name"' EXIT
# complete LINE: the words bash-completion would offer at the end of LINE.
complete_line() {
	bash -c '
		source "$1"; source "$2"
		read -ra COMP_WORDS <<<"$3"
		[[ $3 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$3; COMP_POINT=${#3}
		func=$(complete -p "${COMP_WORDS[0]}" | sed -E "s/.*-F ([^ ]+).*/\1/")
		"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$lib" "$file" "$1"
}
n=0
check() { # check DESCRIPTION LINE WANT
	n=$((n + 1))
	if complete_line "$2" | grep -qxF -- "$3"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: '$2' does not offer '$3' (offers: $(complete_line "$2" | tr '\n' ' '))"
	fi
}
check "evthrottlectl commands" "evthrottlectl " "status"
check "evthrottlectl list" "evthrottlectl -n x li" "list"
check "evthrottlectl --yes" "evthrottlectl --y" "--yes"
check "evthrottlectl -n: throttle names from /dev/shm" "evthrottlectl -n comp" "$name"
check "evthrottle-inspect commands" "evthrottle-inspect -n x " "check"
check "evthrottle-inspect options" "evthrottle-inspect --pro" "--prometheus"
check "evthrottled --remove: throttle names" "evthrottled --remove compl" "$name"
check "evthrottle-inspect --all" "evthrottle-inspect --al" "--all"
check "evthrottle-inspect key" "evthrottle-inspect ke" "key"
check "evthrottlectl limit" "evthrottlectl -n x lim" "limit"
check "evthrottlectl shadow on|off" "evthrottlectl shadow o" "off"

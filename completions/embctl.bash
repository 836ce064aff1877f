# bash completion for embctl. Source it (sourcing it again is harmless), or install it in
# bash-completion's directory. It asks `embctl complete -- WORDS…` for candidates; the last line of
# the answer is ":DIRECTIVE" (1 error, 2 no space, 4 no file names, 16 directories only).
_embctl_complete() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n "=:" cur words cword
    else
        cur=${COMP_WORDS[COMP_CWORD]} words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    local out directive=0 line
    local -a values=()
    out=$(embctl complete -- "${words[@]:1:cword}" 2>/dev/null) || return
    if [[ $out == *:* ]]; then directive=${out##*:} out=${out%:*}; fi
    (( directive & 1 )) && return
    if (( directive & 16 )); then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
    fi
    while IFS= read -r line; do [[ -n $line ]] && values+=("${line%%$'\t'*}"); done <<<"$out"
    if (( ${#values[@]} == 0 && !(directive & 4) )); then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
    fi
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' "${values[@]}")" -- "$cur")
}
complete -F _embctl_complete embctl

from v2vtool.cli import main

main()

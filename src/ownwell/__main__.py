from ownwell.cli import main

main()
